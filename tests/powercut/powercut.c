/* Power-loss test of the storage device (make powercut CUTS=<n> SEED=<s>).
 *
 * Many logs live on one simulated device at once, as they will under
 * JetStream, MQTT and RAFT:
 *
 *   S0  a stream with discard new, max_msgs and max_msgs_per_subject;
 *   S1  a KV-like stream: discard old, one message per subject (the new
 *       record carries the removal of the old), max_bytes, and expiry by
 *       max_age with message times out of sequence order;
 *   S2  a stream with discard old and max_msgs, truncation, messages at
 *       given sequences with gaps, skips, erasure;
 *   C   a consumer's state (deliveries, redeliveries, acks, snapshots);
 *   R   a RAFT log (appends, truncation, snapshots, term and vote);
 *   and catalogue changes: a stream created, filled and deleted again, and
 *   S0's configuration updated.
 *
 * Every stream takes interior deletes and purges (by subject, up to a
 * sequence, keeping N), and some payloads are as large as the device's
 * largest record. The devices are small enough to fill up: a write refused
 * for space (NE_ERR_FULL) is part of the workload, and a stream with
 * discard old then gives up its oldest messages, which a cut may leave
 * removed while the append is lost. At each cut point power fails during a random program,
 * erase or (behind a write cache) sync a few operations ahead. Then the
 * device is opened again from the flash alone and every log is checked
 * against a model of what the workload did:
 *
 *   - "Acknowledged durable": a change that returned NE_OK and was followed
 *     by a sync that returned NE_OK (truncation, erasure, catalogue changes,
 *     RAFT term, vote and snapshot are durable when they return). Every such
 *     record must come back byte-exact; every such removal must stay
 *     removed; every such ack must stay acked (never pending again), every
 *     such delivery not acked must stay pending.
 *   - A change not yet synced may or may not survive, but a record that
 *     comes back must be byte-exact: anything else is a corrupt record.
 *   - A record gone after a recovery stays gone.
 *
 * Removals the stores make by themselves (limits, expiry) are observed,
 * not predicted: after each step the model compares counts and, when they
 * differ, walks the stream to see what left.
 *
 * The devices in turn (250 cuts each): NOR-like chips, where a cut tears
 * the operation in progress, and the same geometries behind a write cache
 * (SD, eMMC, a file), where a cut keeps any subset of the lines written
 * since the last sync (one possibly torn) and may fall during a sync.
 *
 * Every 8th cut point a copy of the recovered device also gets one bit
 * flipped in its written area and is opened on its own: no stream record
 * that comes back may differ from the model, and a durable record that is
 * missing must be reported.
 *
 * --verbose names every loss; --trace N also prints each step from cut
 * point N on, with the consumer log's state, the device operations each
 * step made, every block's BEGIN after each cut, and a stream's state
 * whenever the store removed messages by itself.
 *
 * The last line is exactly
 *   cut points: <n>, acknowledged records lost: <k>, corrupt records returned: <c>
 * and the exit status is non-zero if k, c, or any other check failed.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ne_error.h"
#include "sim/ne_sim_flash.h"
#include "store/ne_store.h"
#include "store/ne_store_consumer.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_raft.h"

#define MAX_BLOCKS 48
#define MAX_ERASE 8192
#define IMAGE_BYTES (MAX_BLOCKS * MAX_ERASE)
#define STREAMS 3
#define MAX_SEQ (1u << 16)
#define MAX_RAFT (1u << 15)
#define MAX_CSEQ (1u << 15)
#define PENDING_CAP 32
#define MAX_PAYLOAD 8192

enum status {
    ST_NONE = 0,    /* never appended (or lost above the recovered last sequence) */
    ST_PENDING,     /* appended, not yet synced */
    ST_DURABLE,     /* appended and synced */
    ST_DEL_PENDING, /* removed, removal not yet synced */
    ST_DELETED,     /* removal synced: must stay gone */
    ST_GONE,        /* absent after a recovery: must stay gone */
};

typedef struct model_rec {
    uint32_t content; /* content id: subject, headers, payload, time derive from it */
    uint8_t status;
    uint8_t seen;
} model_rec;

/* ---- Devices ----------------------------------------------------------------- */

typedef struct device_kind {
    ne_flash_geometry geometry;
    uint32_t cache_line_bytes; /* 0: no cache */
    uint32_t cache_capacity_lines;
    uint32_t writeback_per_mille;
} device_kind;

static const device_kind devices[] = {
    {{.program_bytes = 16, .erase_bytes = 4096, .block_count = 40}, 0, 0, 0},
    {{.program_bytes = 256, .erase_bytes = 4096, .block_count = 44}, 0, 0, 0},
    {{.program_bytes = 8, .erase_bytes = 2048, .block_count = 48}, 0, 0, 0},
    {{.program_bytes = 64, .erase_bytes = 8192, .block_count = 24}, 0, 0, 0},
    {{.program_bytes = 16, .erase_bytes = 4096, .block_count = 40}, 512, 0, 0},
    {{.program_bytes = 256, .erase_bytes = 4096, .block_count = 44}, 256, 8, 50},
    {{.program_bytes = 8, .erase_bytes = 2048, .block_count = 48}, 64, 32, 20},
    {{.program_bytes = 64, .erase_bytes = 8192, .block_count = 24}, 4096, 0, 100},
};

static ne_sim_flash sim;
static uint8_t image[IMAGE_BYTES];
static uint32_t erase_counts[MAX_BLOCKS];
static uint8_t programmed[IMAGE_BYTES / 8 + 1];
static uint8_t durable[IMAGE_BYTES];
static uint8_t dirty[IMAGE_BYTES / 8 + 1];
static ne_snappy_table table;
static ne_store_dev dev;
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];

/* The bit-flip copy. */
static ne_sim_flash flip_sim;
static uint8_t flip_image[IMAGE_BYTES];
static uint32_t flip_erase_counts[MAX_BLOCKS];
static ne_store_dev flip_dev;

/* ---- Run state -------------------------------------------------------------- */

static uint64_t rng_state;
static uint32_t next_content = 1;
static uint64_t cut_points;
static uint64_t lost;
static uint64_t corrupt_returned;
static uint64_t resurrected;
static uint64_t other_failures;
static uint64_t flips_done;
static uint64_t flips_detected;
static uint64_t flips_harmless;
static uint64_t cuts_in[3]; /* programs, erases, syncs */
static ne_store_dev_stats totals;
static uint64_t steps_total;
static uint64_t op_counts[32];
static bool verbose;
static uint64_t trace_from = UINT64_MAX; /* --trace N: print every step from cut N on */
static const char *checking = "recovery";
static char last_op[160];
static size_t max_payload; /* the device's largest payload for our subjects */

static uint64_t rnd(void)
{
    uint64_t x = rng_state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng_state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static uint32_t rnd_below(uint32_t n)
{
    return n == 0 ? 0 : (uint32_t)(rnd() % n);
}

static void fail(const char *what, uint64_t value)
{
    other_failures++;
    if (other_failures < 20) {
        fprintf(stderr, "powercut: %s (%llu, cut point %llu, last op %s)\n", what,
                (unsigned long long)value, (unsigned long long)cut_points, last_op);
    }
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

/* ---- Streams ------------------------------------------------------------------- */

typedef struct stream_model {
    const char *name;
    uint32_t id;
    ne_store store;
    ne_store_subject subjects[32];
    char text[1024];
    ne_store_limits limits;
    uint32_t subject_count;
    model_rec recs[MAX_SEQ];
    uint32_t active[2048]; /* seqs in PENDING, DURABLE or DEL_PENDING */
    uint32_t active_count;
} stream_model;

static stream_model streams[STREAMS];

typedef struct content {
    char subject[40];
    size_t subject_len;
    char headers[64];
    size_t headers_len;
    uint8_t payload[MAX_PAYLOAD];
    size_t payload_len;
    uint64_t ts;
} content_t;

static content_t scratch_content;
static uint8_t load_buf[MAX_PAYLOAD + 256];

static uint32_t subject_of(const stream_model *s, uint32_t id)
{
    return (uint32_t)(mix(id) % s->subject_count);
}

static size_t subject_name(const stream_model *s, uint32_t subject, char *out, size_t cap)
{
    if (s == &streams[1]) {
        return (size_t)snprintf(out, cap, "$KV.cfg.key%u", subject);
    }
    return (size_t)snprintf(out, cap, "%s.%u", subject < 4 ? "kv.bucket" : "telemetry.site",
                            subject);
}

static uint64_t base_ts(uint32_t id)
{
    return 1700000000000000000ull + (uint64_t)id * 1000;
}

/* Content of an id: its subject, headers, payload (large ids as large as
 * the device allows) and time (some earlier than their neighbours'). */
static void make_content(const stream_model *s, uint32_t id, content_t *c)
{
    uint64_t h = mix(id * 2654435761u + 17);
    c->subject_len = subject_name(s, subject_of(s, id), c->subject, sizeof(c->subject));
    c->headers_len = 0;
    if (h & 1) {
        c->headers_len =
            (size_t)snprintf(c->headers, sizeof(c->headers), "NATS/1.0\r\nX-Id: %u\r\n\r\n", id);
    }
    size_t len = (size_t)((h >> 8) % 700);
    if ((h >> 4) % 8 == 0) {
        len = 0;
    }
    if ((h >> 20) % 40 == 0) {
        /* As large as one record can be. */
        len = max_payload - c->subject_len - c->headers_len;
    }
    if (len > MAX_PAYLOAD) {
        len = MAX_PAYLOAD;
    }
    c->payload_len = len;
    uint64_t r = h;
    for (size_t i = 0; i < len; i++) {
        if ((h >> 2) & 1) {
            static const char text[] = "{\"temp\":21.5,\"hum\":40,\"site\":\"plant-7\"} ";
            c->payload[i] = (uint8_t)text[(i + id) % (sizeof(text) - 1)];
        } else {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            c->payload[i] = (uint8_t)(r >> 56);
        }
    }
    c->ts = base_ts(id);
    if ((h >> 30) % 4 == 0) {
        /* Times need not grow with sequences (mirrored messages). */
        c->ts -= (h >> 34) % 50000;
    }
}

static bool same_content(const stream_model *s, const ne_store_msg *m, uint32_t id)
{
    content_t *c = &scratch_content;
    make_content(s, id, c);
    return m->subject_len == c->subject_len &&
           memcmp(m->subject, c->subject, c->subject_len) == 0 &&
           m->headers_len == c->headers_len &&
           (c->headers_len == 0 || memcmp(m->headers, c->headers, c->headers_len) == 0) &&
           m->payload_len == c->payload_len &&
           (c->payload_len == 0 || memcmp(m->payload, c->payload, c->payload_len) == 0) &&
           m->timestamp_ns == c->ts;
}

static void active_add(stream_model *s, uint32_t seq)
{
    if (s->active_count >= sizeof(s->active) / sizeof(s->active[0])) {
        fail("model active set overflow", seq);
        return;
    }
    s->active[s->active_count++] = seq;
}

static void active_compact(stream_model *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->active_count; i++) {
        uint8_t st = s->recs[s->active[i]].status;
        if (st == ST_PENDING || st == ST_DURABLE || st == ST_DEL_PENDING) {
            s->active[n++] = s->active[i];
        }
    }
    s->active_count = n;
}

static bool is_live(const stream_model *s, uint32_t seq)
{
    uint8_t st = s->recs[seq].status;
    return st == ST_PENDING || st == ST_DURABLE;
}

static uint32_t live_count(const stream_model *s)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->active_count; i++) {
        n += is_live(s, s->active[i]);
    }
    return n;
}

static uint32_t random_live(const stream_model *s)
{
    uint32_t live = live_count(s);
    if (live == 0) {
        return 0;
    }
    uint32_t pick = rnd_below(live);
    for (uint32_t i = 0; i < s->active_count; i++) {
        if (is_live(s, s->active[i]) && pick-- == 0) {
            return s->active[i];
        }
    }
    return 0;
}

static void model_remove(stream_model *s, uint32_t seq)
{
    if (is_live(s, seq)) {
        s->recs[seq].status = ST_DEL_PENDING;
    }
}

/* Removals the store made by itself: every live record of the model that
 * the store no longer has is marked removed (not yet durable). A record the
 * store has and the model does not know is a failure. */
static void observe(stream_model *s)
{
    for (uint32_t i = 0; i < s->active_count; i++) {
        s->recs[s->active[i]].seen = 0;
    }
    ne_store_reader reader;
    ne_store_reader_init(&reader);
    uint64_t from = 1;
    for (uint32_t guard = 0; guard < MAX_SEQ; guard++) {
        ne_store_msg m;
        int rc =
            ne_store_read_next(&s->store, &reader, from, NULL, 0, &m, load_buf, sizeof(load_buf));
        if (rc == NE_ERR_NOT_FOUND) {
            break;
        }
        if (rc != NE_OK) {
            fail("walking a stream failed", (uint64_t)-rc);
            return;
        }
        from = m.seq + 1;
        if (m.seq >= MAX_SEQ || !is_live(s, (uint32_t)m.seq)) {
            fail("a stream holds a record the model does not", m.seq);
            continue;
        }
        s->recs[m.seq].seen = 1;
    }
    for (uint32_t i = 0; i < s->active_count; i++) {
        uint32_t seq = s->active[i];
        if (is_live(s, seq) && !s->recs[seq].seen) {
            model_remove(s, seq);
        }
    }
}

static void observe_if_changed(stream_model *s)
{
    if (s->store.state.msgs != live_count(s)) {
        observe(s);
        if (cut_points >= trace_from) {
            fprintf(stderr,
                    "  %s removed by the store: first %llu last %llu msgs %llu (model %u)\n",
                    s->name, (unsigned long long)s->store.state.first_seq,
                    (unsigned long long)s->store.state.last_seq,
                    (unsigned long long)s->store.state.msgs, live_count(s));
        }
    }
}

static ne_store_config stream_config(stream_model *s, bool with_limits)
{
    ne_store_config cfg = {.subjects = s->subjects,
                           .subject_capacity = 32,
                           .subject_text = s->text,
                           .subject_text_bytes = sizeof(s->text)};
    if (with_limits) {
        cfg.limits = s->limits;
    } else {
        cfg.limits.discard = s->limits.discard;
    }
    return cfg;
}

/* ---- Consumer ------------------------------------------------------------------ */

enum cstatus {
    CS_NONE = 0,
    CS_DELIVERED_PENDING, /* delivery not yet synced */
    CS_DELIVERED,         /* delivery synced, not acked */
    CS_ACK_PENDING,       /* acked, ack not yet synced */
    CS_ACKED,             /* ack synced: never pending again */
};

typedef struct consumer_model {
    uint32_t id;
    ne_store_consumer c;
    ne_store_pending pending[PENDING_CAP];
    uint8_t status[MAX_CSEQ];
    uint32_t next_stream_seq;
    uint64_t next_delivery;
    uint64_t durable_delivered; /* stream sequence */
} consumer_model;

static consumer_model cons;
static uint8_t snapshot_buf[NE_STORE_CONSUMER_SNAPSHOT_BYTES(PENDING_CAP)];

static int attach_consumer(ne_store_dev *d, ne_store_consumer *c, ne_store_pending *pend)
{
    ne_store_consumer_config cfg = {.ack_policy = NE_STORE_ACK_EXPLICIT,
                                    .pending = pend,
                                    .pending_capacity = PENDING_CAP,
                                    .snapshot_buf = snapshot_buf,
                                    .snapshot_bytes = sizeof(snapshot_buf)};
    return ne_store_consumer_attach(c, d, cons.id, &cfg);
}

/* ---- RAFT ------------------------------------------------------------------------ */

typedef struct raft_entry {
    uint32_t content;
    uint32_t term;
    uint8_t status;
} raft_entry;

typedef struct raft_model {
    uint32_t id;
    ne_store_raft r;
    raft_entry entries[MAX_RAFT];
    uint64_t last;          /* the model's last index */
    uint64_t durable_floor; /* entries up to here are in a durable snapshot */
    uint64_t term;
    uint64_t vote;
    uint64_t term_pending; /* a set_term_vote that did not return: its term */
    uint64_t vote_pending;
    bool tv_in_doubt;
} raft_model;

static raft_model raft;

static size_t raft_payload(uint32_t content, uint8_t *out)
{
    uint64_t h = mix(content);
    size_t len = 8 + (size_t)(h % 200);
    for (size_t i = 0; i < len; i++) {
        out[i] = (uint8_t)(mix(h + i) >> 40);
    }
    return len;
}

/* ---- Catalogue ---------------------------------------------------------------- */

enum temp_state { TEMP_ABSENT = 0, TEMP_PRESENT, TEMP_IN_DOUBT };

static struct {
    enum temp_state state;
    uint32_t id;
    uint64_t config_version;  /* S0's configuration, durable */
    uint64_t config_in_doubt; /* an update that did not return: its version, 0 none */
} cat;

/* ---- Opening -------------------------------------------------------------------- */

static const char *const names[STREAMS] = {"S0", "S1", "S2"};

static int find_or_create(ne_store_dev *d, ne_store_kind kind, const char *name, uint32_t *id)
{
    ne_store_entry e;
    int rc = ne_store_dev_find(d, kind, 0, name, strlen(name), &e, entry_buf, sizeof(entry_buf));
    if (rc == NE_OK) {
        *id = e.id;
        return NE_OK;
    }
    if (rc != NE_ERR_NOT_FOUND) {
        return rc;
    }
    return ne_store_dev_create(d, kind, 0, name, strlen(name), "v0", 2, id);
}

/* --trace also prints the device operations (programs, erases, syncs) the
 * store makes from the traced cut on, through this wrapper of the
 * simulator's ops. */
static ne_flash traced_flash;
static const ne_flash_ops *sim_ops;

static bool tracing_device(void)
{
    return cut_points >= trace_from;
}

static int traced_read(void *ctx, uint32_t addr, void *buf, size_t len)
{
    return sim_ops->read(ctx, addr, buf, len);
}

static int traced_program(void *ctx, uint32_t addr, const void *buf, size_t len)
{
    int rc = sim_ops->program(ctx, addr, buf, len);
    if (tracing_device()) {
        uint32_t eb = sim.flash.geometry.erase_bytes;
        fprintf(stderr, "  dev program block %u off %u len %zu type %c -> %s\n", addr / eb,
                addr % eb, len,
                ((const uint8_t *)buf)[0] >= 0x20 && ((const uint8_t *)buf)[0] < 0x7f
                    ? ((const uint8_t *)buf)[0]
                    : '?',
                ne_err_name(rc));
    }
    return rc;
}

static int traced_erase(void *ctx, uint32_t block)
{
    int rc = sim_ops->erase(ctx, block);
    if (tracing_device()) {
        fprintf(stderr, "  dev erase block %u -> %s\n", block, ne_err_name(rc));
    }
    return rc;
}

static int traced_sync(void *ctx)
{
    int rc = sim_ops->sync(ctx);
    if (tracing_device()) {
        fprintf(stderr, "  dev sync -> %s\n", ne_err_name(rc));
    }
    return rc;
}

static uint64_t le_bytes(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = n; i > 0; i--) {
        v = (v << 8) | p[i - 1];
    }
    return v;
}

/* --trace: each block's first frame as the medium holds it: "-" without a
 * header, "free" without a BEGIN, else L<log>/s<serial> ("c" for a
 * compaction block), [floor, next sequence) and the serials it replaces.
 * The fields are read as they lie, CRCs unchecked: a torn BEGIN shows
 * garbage. */
static void trace_blocks(const char *when)
{
    ne_flash_geometry g = sim.flash.geometry;
    fprintf(stderr, "  blocks %s:", when);
    for (uint32_t b = 0; b < g.block_count; b++) {
        const uint8_t *blk = image + (size_t)b * g.erase_bytes;
        const uint8_t *f = blk + 32;
        if (blk[0] == 0xff) {
            fprintf(stderr, " %u:-", b);
        } else if (f[0] != 'B') {
            fprintf(stderr, " %u:free", b);
        } else {
            const uint8_t *body = f + 16;
            unsigned victims = body[25];
            fprintf(stderr, " %u:L%u/s%llu%s[%llu,%llu)", b, (unsigned)le_bytes(body + 28, 4),
                    (unsigned long long)le_bytes(body, 8), body[24] ? "c" : "",
                    (unsigned long long)le_bytes(body + 8, 8),
                    (unsigned long long)le_bytes(body + 16, 8));
            for (unsigned v = 0; v < victims && v < 8; v++) {
                fprintf(stderr, "%cv%llu", v == 0 ? '(' : ',',
                        (unsigned long long)le_bytes(body + 40 + 8 * v, 8));
            }
            fprintf(stderr, "%s", victims ? ")" : "");
        }
    }
    fprintf(stderr, "\n");
}

static const ne_flash_ops traced_ops = {traced_read, traced_program, traced_erase, traced_sync};

static ne_flash *device_flash(void)
{
    if (trace_from == UINT64_MAX) {
        return &sim.flash;
    }
    sim_ops = sim.flash.ops;
    traced_flash = sim.flash;
    traced_flash.ops = &traced_ops;
    return &traced_flash;
}

/* Opens the device and attaches every log; streams without their limits,
 * so that the check sees exactly what the flash holds. */
static int open_all(void)
{
    int rc = ne_store_dev_open(&dev, device_flash(), &table);
    if (rc != NE_OK && verbose) {
        fprintf(stderr, "open_all: device open: %s\n", ne_err_name(rc));
    }
    for (int k = 0; k < STREAMS && rc == NE_OK; k++) {
        stream_model *s = &streams[k];
        rc = find_or_create(&dev, NE_STORE_KIND_STREAM, names[k], &s->id);
        if (rc == NE_OK) {
            ne_store_config cfg = stream_config(s, false);
            rc = ne_store_attach(&s->store, &dev, s->id, &cfg);
        }
    }
    if (rc == NE_OK) {
        rc = find_or_create(&dev, NE_STORE_KIND_CONSUMER, "C", &cons.id);
    }
    if (rc == NE_OK) {
        rc = attach_consumer(&dev, &cons.c, cons.pending);
        if (rc != NE_OK && verbose) {
            fprintf(stderr, "open_all: consumer attach: %s\n", ne_err_name(rc));
        }
    }
    if (rc == NE_OK) {
        rc = find_or_create(&dev, NE_STORE_KIND_RAFT, "R", &raft.id);
    }
    if (rc == NE_OK) {
        rc = ne_store_raft_attach(&raft.r, &dev, raft.id);
    }
    return rc;
}

static void apply_stream_limits(void)
{
    for (int k = 0; k < STREAMS; k++) {
        stream_model *s = &streams[k];
        int rc = ne_store_set_limits(&s->store, &s->limits);
        if (rc != NE_OK) {
            fprintf(stderr, "powercut: %s: setting limits after recovery: %s\n", s->name,
                    ne_err_name(rc));
            fail("setting limits after recovery failed", (uint64_t)k);
        }
        observe(s);
    }
}

static void set_stream_limits(void)
{
    streams[0].limits = (ne_store_limits){
        .max_msgs = 40, .max_msgs_per_subject = 6, .discard = NE_STORE_DISCARD_NEW};
    streams[0].subject_count = 12;
    streams[1].limits = (ne_store_limits){.max_msgs_per_subject = 1,
                                          .max_bytes = 24 * 1024,
                                          .max_age_ns = 40000,
                                          .discard = NE_STORE_DISCARD_OLD};
    streams[1].subject_count = 16;
    streams[2].limits = (ne_store_limits){.max_msgs = 64, .discard = NE_STORE_DISCARD_OLD};
    streams[2].subject_count = 3;
}

static void reset_models(void)
{
    for (int k = 0; k < STREAMS; k++) {
        memset(streams[k].recs, 0, sizeof(streams[k].recs));
        streams[k].active_count = 0;
    }
    memset(cons.status, 0, sizeof(cons.status));
    cons.next_stream_seq = 1;
    cons.next_delivery = 1;
    cons.durable_delivered = 0;
    memset(raft.entries, 0, sizeof(raft.entries));
    raft.last = 0;
    raft.durable_floor = 0;
    raft.term = 0;
    raft.vote = 0;
    raft.tv_in_doubt = false;
    memset(&cat, 0, sizeof(cat));
}

static void new_device(uint32_t index)
{
    const device_kind *d = &devices[index % (sizeof(devices) / sizeof(devices[0]))];
    ne_sim_flash_init(&sim, d->geometry, image, erase_counts, programmed, rnd());
    if (d->cache_line_bytes != 0) {
        ne_sim_flash_use_cache(&sim, durable, dirty, d->cache_line_bytes, d->cache_capacity_lines,
                               d->writeback_per_mille);
    }
    reset_models();
    int rc = open_all();
    if (rc != NE_OK) {
        fprintf(stderr, "powercut: opening a new device failed: %s\n", ne_err_name(rc));
        fail("opening a new device failed", 0);
        return;
    }
    max_payload = ne_store_max_msg_bytes(&streams[0].store) - 40;
    apply_stream_limits();
}

/* ---- Workload: streams ------------------------------------------------------------ */

static void cut_during_append(stream_model *s, uint32_t id);

static uint64_t dropped_then_refused; /* appends refused after removing messages */

static int stream_append(stream_model *s, bool at_gap)
{
    uint32_t id = next_content++;
    content_t *c = &scratch_content;
    make_content(s, id, c);
    ne_store_msg m = {.subject = c->subject,
                      .subject_len = c->subject_len,
                      .headers = (const uint8_t *)c->headers,
                      .headers_len = c->headers_len,
                      .payload = c->payload,
                      .payload_len = c->payload_len,
                      .timestamp_ns = c->ts};
    uint64_t expect = s->store.state.last_seq + 1 + (at_gap ? 1 + rnd_below(3) : 0);
    if (expect + 4 >= MAX_SEQ) {
        return NE_OK;
    }
    uint64_t seq = 0;
    uint64_t msgs_before = s->store.state.msgs;
    int rc =
        at_gap ? ne_store_append_at(&s->store, &m, expect) : ne_store_append(&s->store, &m, &seq);
    snprintf(last_op, sizeof(last_op), "%s append %llu (%zu B) -> %s", s->name,
             (unsigned long long)expect, c->payload_len, ne_err_name(rc));
    if (rc == NE_ERR_FULL || rc == NE_ERR_TOO_BIG) {
        /* Refused; with discard old, messages removed while making room
         * may have left first. */
        if (s->store.state.msgs < msgs_before) {
            dropped_then_refused++;
        }
        observe_if_changed(s);
        return NE_OK;
    }
    if (rc != NE_OK && rc != NE_ERR_POWER_LOSS) {
        return rc;
    }
    if (rc == NE_OK && !at_gap && seq != expect) {
        fail("unexpected sequence", seq);
    }
    s->recs[expect].content = id;
    s->recs[expect].status = ST_PENDING;
    active_add(s, (uint32_t)expect);
    if (rc == NE_OK) {
        observe_if_changed(s);
        if (s->limits.max_msgs != 0 && s->store.state.msgs > s->limits.max_msgs) {
            fail("a stream is over max_msgs", s->store.state.msgs);
        }
    } else {
        cut_during_append(s, id);
    }
    return rc;
}

/* A cut in the middle of a step that may have removed records (limits,
 * purge, expiry): those removals were not durable, so the records they took
 * may be gone after recovery although durable themselves. The model marks
 * the candidates (seen = 2), and the check does not count them as lost. */
static void cut_during_possible_evictions(stream_model *s)
{
    for (uint32_t i = 0; i < s->active_count; i++) {
        uint32_t seq = s->active[i];
        if (is_live(s, seq)) {
            s->recs[seq].seen = 2;
        }
    }
}

/* An append removes at most: its subject's oldest (max_msgs_per_subject),
 * and with discard old the oldest messages (one for max_msgs, any number
 * for max_bytes or when the device is full). */
static void cut_during_append(stream_model *s, uint32_t id)
{
    if (s->limits.max_bytes != 0 || s->limits.discard == NE_STORE_DISCARD_OLD) {
        cut_during_possible_evictions(s);
        return;
    }
    uint32_t subject = subject_of(s, id);
    for (uint32_t i = 0; i < s->active_count; i++) {
        uint32_t seq = s->active[i];
        if (is_live(s, seq) && subject_of(s, s->recs[seq].content) == subject) {
            s->recs[seq].seen = 2;
        }
    }
}

static int stream_delete(stream_model *s, bool erase)
{
    uint32_t seq = random_live(s);
    if (seq == 0) {
        return NE_OK;
    }
    int rc = erase ? ne_store_erase(&s->store, seq) : ne_store_delete(&s->store, seq);
    snprintf(last_op, sizeof(last_op), "%s %s %u -> %s", s->name, erase ? "erase" : "delete", seq,
             ne_err_name(rc));
    if (rc == NE_OK || rc == NE_ERR_POWER_LOSS) {
        model_remove(s, seq);
        if (rc == NE_OK && erase) {
            s->recs[seq].status = ST_DELETED; /* durable when it returns */
        }
        if (rc == NE_OK) {
            observe_if_changed(s);
        }
        return rc;
    }
    if (rc == NE_ERR_FULL) {
        /* Refused for space: nothing may have changed, the message is
         * still there (an erasure that recorded the removal before its
         * rewrite failed lost it at the next sync: seed 10045). */
        ne_store_msg m;
        if (ne_store_load(&s->store, seq, &m, load_buf, sizeof(load_buf)) != NE_OK ||
            !same_content(s, &m, s->recs[seq].content)) {
            fail("a removal refused for space removed the message", seq);
        }
        return NE_OK;
    }
    return rc;
}

static int stream_purge(stream_model *s)
{
    ne_store_purge_req req = {0};
    char subject[40];
    uint32_t kind = rnd_below(3);
    if (kind == 0) {
        req.subject_len = subject_name(s, rnd_below(s->subject_count), subject, sizeof(subject));
        req.subject = subject;
        req.keep = rnd_below(3);
    } else if (kind == 1) {
        req.up_to_seq = s->store.state.first_seq + rnd_below(8) + 1;
    } else {
        req.keep = 1 + rnd_below(32);
    }
    uint64_t purged = 0;
    int rc = ne_store_purge(&s->store, &req, &purged);
    snprintf(last_op, sizeof(last_op), "%s purge kind %u -> %s (%llu)", s->name, kind,
             ne_err_name(rc), (unsigned long long)purged);
    if (rc == NE_OK) {
        observe(s);
        return rc;
    }
    if (rc == NE_ERR_POWER_LOSS) {
        cut_during_possible_evictions(s);
        return rc;
    }
    if (rc == NE_ERR_FULL) {
        /* No room for the removals' records: part of it may be done. */
        observe(s);
        return NE_OK;
    }
    return rc;
}

static int stream_truncate(stream_model *s)
{
    ne_store_state st;
    ne_store_get_state(&s->store, &st);
    if (st.msgs < 4) {
        return NE_OK;
    }
    uint64_t to = st.last_seq - 1 - rnd_below(4);
    if (to + 1 < st.first_seq) {
        return NE_OK;
    }
    int rc = ne_store_truncate(&s->store, to);
    snprintf(last_op, sizeof(last_op), "%s truncate %llu -> %s", s->name, (unsigned long long)to,
             ne_err_name(rc));
    if (rc == NE_OK) {
        /* Durable at return: the tail is gone for good. */
        for (uint32_t i = 0; i < s->active_count; i++) {
            uint32_t seq = s->active[i];
            if (seq > to) {
                s->recs[seq].status = ST_DELETED;
            }
        }
        for (uint64_t seq = to + 1; seq <= st.last_seq && seq < MAX_SEQ; seq++) {
            if (s->recs[seq].status == ST_GONE || s->recs[seq].status == ST_NONE) {
                s->recs[seq].status = ST_DELETED;
            }
        }
        active_compact(s);
        observe_if_changed(s);
        return rc;
    }
    if (rc == NE_ERR_POWER_LOSS) {
        for (uint32_t i = 0; i < s->active_count; i++) {
            if (s->active[i] > to) {
                model_remove(s, s->active[i]);
            }
        }
    }
    if (rc == NE_ERR_FULL) {
        /* Refused for space: nothing may have changed (seed 517686). */
        if (s->store.state.msgs != st.msgs || s->store.state.last_seq != st.last_seq) {
            fail("a truncation refused for space changed the stream", to);
        }
        return NE_OK;
    }
    return rc;
}

static int stream_skip(stream_model *s)
{
    if (s->store.state.last_seq + 8 >= MAX_SEQ) {
        return NE_OK;
    }
    int rc = ne_store_skip(&s->store, 1 + rnd_below(3), NULL);
    snprintf(last_op, sizeof(last_op), "%s skip -> %s", s->name, ne_err_name(rc));
    return rc == NE_ERR_FULL ? NE_OK : rc;
}

static int stream_expire(stream_model *s)
{
    uint64_t now = base_ts(next_content);
    uint64_t expired = 0;
    int rc = ne_store_expire(&s->store, now, &expired);
    snprintf(last_op, sizeof(last_op), "%s expire -> %s (%llu)", s->name, ne_err_name(rc),
             (unsigned long long)expired);
    if (rc == NE_OK || rc == NE_ERR_FULL) {
        /* A full device may have stopped it part way. */
        observe(s);
        return NE_OK;
    }
    if (rc == NE_ERR_POWER_LOSS) {
        cut_during_possible_evictions(s);
    }
    return rc;
}

/* ---- Workload: consumer ------------------------------------------------------------ */

static int consumer_step(void)
{
    ne_store_consumer *c = &cons.c;
    uint32_t dice = rnd_below(10);
    if (dice < 5 && c->pending_count < PENDING_CAP && cons.next_stream_seq + 2 < MAX_CSEQ) {
        uint32_t sseq = cons.next_stream_seq + rnd_below(2);
        uint64_t d = cons.next_delivery;
        int rc = ne_store_consumer_delivered(c, d, sseq, 1, d);
        snprintf(last_op, sizeof(last_op), "C delivered %llu/%u -> %s", (unsigned long long)d, sseq,
                 ne_err_name(rc));
        if (rc == NE_OK || rc == NE_ERR_POWER_LOSS) {
            cons.status[sseq] = CS_DELIVERED_PENDING;
            cons.next_stream_seq = sseq + 1;
            cons.next_delivery++;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    if (c->pending_count == 0) {
        return NE_OK;
    }
    const ne_store_pending *p = &c->pending[rnd_below(c->pending_count)];
    uint64_t sseq = p->stream_seq;
    uint64_t dseq = p->consumer_seq;
    if (dice < 7) {
        int rc = ne_store_consumer_delivered(c, cons.next_delivery, sseq, p->deliveries + 1,
                                             cons.next_delivery);
        snprintf(last_op, sizeof(last_op), "C redelivered %llu -> %s", (unsigned long long)sseq,
                 ne_err_name(rc));
        if (rc == NE_OK || rc == NE_ERR_POWER_LOSS) {
            cons.next_delivery++;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    int rc = ne_store_consumer_ack(c, dseq, sseq);
    snprintf(last_op, sizeof(last_op), "C ack %llu -> %s", (unsigned long long)sseq,
             ne_err_name(rc));
    if (rc == NE_OK || rc == NE_ERR_POWER_LOSS) {
        if (sseq < MAX_CSEQ) {
            cons.status[sseq] = CS_ACK_PENDING;
        }
    }
    return rc == NE_ERR_FULL ? NE_OK : rc;
}

/* ---- Workload: RAFT ---------------------------------------------------------------- */

static uint8_t raft_buf[512];

static int raft_step(void)
{
    uint32_t dice = rnd_below(20);
    if (dice < 14) {
        uint64_t index = ne_store_raft_last_index(&raft.r) + 1;
        if (index >= MAX_RAFT) {
            return NE_OK;
        }
        uint32_t content = next_content++;
        size_t len = raft_payload(content, raft_buf);
        uint64_t term = raft.term > 0 ? raft.term : 1;
        int rc = ne_store_raft_append(&raft.r, index, term, raft_buf, len);
        snprintf(last_op, sizeof(last_op), "R append %llu -> %s", (unsigned long long)index,
                 ne_err_name(rc));
        if (rc == NE_OK || rc == NE_ERR_POWER_LOSS) {
            raft.entries[index].content = content;
            raft.entries[index].term = (uint32_t)term;
            raft.entries[index].status = ST_PENDING;
            raft.last = index;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    if (dice < 16) {
        uint64_t last = ne_store_raft_last_index(&raft.r);
        uint64_t first = ne_store_raft_first_index(&raft.r);
        if (last < 3 || first == 0) {
            return NE_OK;
        }
        uint64_t to = last - 1 - rnd_below(3);
        if (to + 1 < first || to < raft.r.snapshot_index) {
            return NE_OK;
        }
        int rc = ne_store_raft_truncate(&raft.r, to);
        snprintf(last_op, sizeof(last_op), "R truncate %llu -> %s", (unsigned long long)to,
                 ne_err_name(rc));
        if (rc == NE_OK) {
            for (uint64_t i = to + 1; i <= raft.last; i++) {
                raft.entries[i].status = ST_DELETED;
            }
            raft.last = to;
        } else if (rc == NE_ERR_POWER_LOSS) {
            for (uint64_t i = to + 1; i <= raft.last; i++) {
                if (raft.entries[i].status == ST_PENDING || raft.entries[i].status == ST_DURABLE) {
                    raft.entries[i].status = ST_DEL_PENDING;
                }
            }
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    if (dice < 18) {
        uint64_t t = raft.term + 1;
        uint64_t v = rnd();
        raft.term_pending = t;
        raft.vote_pending = v;
        raft.tv_in_doubt = true;
        int rc = ne_store_raft_set_term_vote(&raft.r, t, v);
        snprintf(last_op, sizeof(last_op), "R term %llu -> %s", (unsigned long long)t,
                 ne_err_name(rc));
        if (rc == NE_OK) {
            raft.term = t;
            raft.vote = v;
            raft.tv_in_doubt = false;
        } else if (rc != NE_ERR_POWER_LOSS) {
            raft.tv_in_doubt = false;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    /* A snapshot of everything durable so far. */
    uint64_t upto = 0;
    for (uint64_t i = raft.durable_floor + 1; i <= raft.last; i++) {
        if (raft.entries[i].status != ST_DURABLE) {
            break;
        }
        upto = i;
    }
    if (upto == 0 || upto <= raft.r.snapshot_index) {
        return NE_OK;
    }
    char snap[32];
    int n = snprintf(snap, sizeof(snap), "state at %llu", (unsigned long long)upto);
    int rc = ne_store_raft_snapshot(&raft.r, upto, raft.entries[upto].term, snap, (size_t)n);
    snprintf(last_op, sizeof(last_op), "R snapshot %llu -> %s", (unsigned long long)upto,
             ne_err_name(rc));
    if (rc == NE_OK) {
        raft.durable_floor = upto;
    }
    return rc == NE_ERR_FULL ? NE_OK : rc;
}

/* ---- Workload: catalogue -------------------------------------------------------------- */

static ne_store temp_store;
static ne_store_subject temp_subjects[8];

static int catalogue_step(void)
{
    uint32_t dice = rnd_below(3);
    if (dice == 0) {
        uint64_t v = cat.config_version + 1;
        char config[32];
        int n = snprintf(config, sizeof(config), "v%llu", (unsigned long long)v);
        cat.config_in_doubt = v;
        int rc = ne_store_dev_update(&dev, streams[0].id, config, (size_t)n);
        snprintf(last_op, sizeof(last_op), "update S0 config v%llu -> %s", (unsigned long long)v,
                 ne_err_name(rc));
        if (rc == NE_OK) {
            cat.config_version = v;
            cat.config_in_doubt = 0;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    if (cat.state == TEMP_ABSENT) {
        cat.state = TEMP_IN_DOUBT;
        int rc = ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "TEMP", 4, "t", 1, &cat.id);
        snprintf(last_op, sizeof(last_op), "create TEMP -> %s", ne_err_name(rc));
        if (rc != NE_OK) {
            cat.state = rc == NE_ERR_POWER_LOSS ? TEMP_IN_DOUBT : TEMP_ABSENT;
            return rc == NE_ERR_FULL || rc == NE_ERR_NOMEM ? NE_OK : rc;
        }
        cat.state = TEMP_PRESENT;
        ne_store_config cfg = {.subjects = temp_subjects, .subject_capacity = 8};
        rc = ne_store_attach(&temp_store, &dev, cat.id, &cfg);
        if (rc != NE_OK) {
            return rc;
        }
        for (int i = 0; i < 5 && rc == NE_OK; i++) {
            ne_store_msg m = {.subject = "temp",
                              .subject_len = 4,
                              .payload = (const uint8_t *)"x",
                              .payload_len = 1};
            rc = ne_store_append(&temp_store, &m, NULL);
        }
        if (rc == NE_ERR_POWER_LOSS) {
            return rc;
        }
        int drc = ne_store_detach(&temp_store);
        if (rc == NE_OK || rc == NE_ERR_FULL) {
            rc = drc;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    cat.state = TEMP_IN_DOUBT;
    int rc = ne_store_dev_delete(&dev, cat.id);
    snprintf(last_op, sizeof(last_op), "delete TEMP -> %s", ne_err_name(rc));
    if (rc == NE_OK) {
        cat.state = TEMP_ABSENT;
    } else if (rc != NE_ERR_POWER_LOSS) {
        cat.state = TEMP_PRESENT;
    }
    return rc == NE_ERR_FULL ? NE_OK : rc;
}

/* ---- Sync ------------------------------------------------------------------------------ */

static void model_sync(void)
{
    for (int k = 0; k < STREAMS; k++) {
        stream_model *s = &streams[k];
        for (uint32_t i = 0; i < s->active_count; i++) {
            model_rec *r = &s->recs[s->active[i]];
            if (r->status == ST_PENDING) {
                r->status = ST_DURABLE;
            } else if (r->status == ST_DEL_PENDING) {
                r->status = ST_DELETED;
            }
        }
        active_compact(s);
    }
    for (uint32_t sseq = 1; sseq < cons.next_stream_seq && sseq < MAX_CSEQ; sseq++) {
        if (cons.status[sseq] == CS_DELIVERED_PENDING) {
            cons.status[sseq] = CS_DELIVERED;
            cons.durable_delivered = sseq;
        } else if (cons.status[sseq] == CS_ACK_PENDING) {
            cons.status[sseq] = CS_ACKED;
        }
    }
    for (uint64_t i = raft.durable_floor + 1; i <= raft.last; i++) {
        if (raft.entries[i].status == ST_PENDING) {
            raft.entries[i].status = ST_DURABLE;
        }
    }
}

/* A sync may find the device too full to write a log's floor (a log
 * without a head needs a block for it): then nothing is promised, and the
 * workload goes on. */
static uint64_t syncs_refused;

static int sync_all(void)
{
    snprintf(last_op, sizeof(last_op), "sync");
    int rc = ne_store_consumer_sync(&cons.c);
    if (rc == NE_OK) {
        rc = ne_store_dev_sync(&dev);
    }
    if (rc == NE_OK) {
        model_sync();
    }
    if (rc == NE_ERR_FULL) {
        syncs_refused++;
        return NE_OK;
    }
    return rc;
}

/* ---- One step ----------------------------------------------------------------------- */

static int step(void)
{
    uint32_t dice = rnd_below(100);
    stream_model *s = &streams[rnd_below(STREAMS)];
    steps_total++;
    if (dice < 40) {
        op_counts[0]++;
        bool gap = s == &streams[2] && rnd_below(6) == 0;
        return stream_append(s, gap);
    }
    if (dice < 48) {
        op_counts[1]++;
        return stream_delete(s, s == &streams[2] && rnd_below(10) == 0);
    }
    if (dice < 50) {
        op_counts[2]++;
        return stream_purge(s);
    }
    if (dice < 52) {
        op_counts[3]++;
        return stream_truncate(&streams[2]);
    }
    if (dice < 53) {
        op_counts[4]++;
        return stream_skip(&streams[2]);
    }
    if (dice < 55) {
        op_counts[5]++;
        return stream_expire(&streams[1]);
    }
    if (dice < 67) {
        op_counts[6]++;
        return consumer_step();
    }
    if (dice < 77) {
        op_counts[7]++;
        return raft_step();
    }
    if (dice < 79) {
        op_counts[8]++;
        return catalogue_step();
    }
    if (dice < 81) {
        op_counts[9]++;
        snprintf(last_op, sizeof(last_op), "compact");
        return ne_store_compact(&streams[rnd_below(STREAMS)].store, NULL);
    }
    op_counts[10]++;
    return sync_all();
}

/* ---- Checking ----------------------------------------------------------------------- */

/* Walks a recovered stream and compares it with the model. With `update`,
 * the model then follows what came back. Records marked as possibly
 * evicted by a cut step (seen == 2 before) count as pending removals. */
static void check_stream(stream_model *s, ne_store *st, bool update, uint64_t *lost_out,
                         uint64_t *corrupt_out, uint64_t *resurrected_out)
{
    ne_store_state state;
    ne_store_get_state(st, &state);
    bool maybe_evicted[2048];
    for (uint32_t i = 0; i < s->active_count; i++) {
        maybe_evicted[i] = s->recs[s->active[i]].seen == 2;
        s->recs[s->active[i]].seen = 0;
    }
    ne_store_reader reader;
    ne_store_reader_init(&reader);
    uint64_t from = 1;
    uint64_t prev = 0;
    uint64_t count = 0;
    for (uint32_t guard = 0; guard < MAX_SEQ; guard++) {
        ne_store_msg m;
        int rc = ne_store_read_next(st, &reader, from, NULL, 0, &m, load_buf, sizeof(load_buf));
        if (rc == NE_ERR_NOT_FOUND) {
            break;
        }
        if (rc != NE_OK) {
            fail("load_next failed", from);
            break;
        }
        count++;
        if (m.seq <= prev) {
            fail("sequences out of order", m.seq);
        }
        prev = m.seq;
        from = m.seq + 1;
        if (m.seq >= MAX_SEQ) {
            (*corrupt_out)++;
            continue;
        }
        model_rec *r = &s->recs[m.seq];
        if (r->status == ST_DELETED || r->status == ST_GONE) {
            if (r->status == ST_DELETED || !same_content(s, &m, r->content)) {
                (*resurrected_out)++;
                if (verbose) {
                    fprintf(stderr, "%s: %s resurrected seq %llu at cut %llu (status %u)\n",
                            checking, s->name, (unsigned long long)m.seq,
                            (unsigned long long)cut_points, r->status);
                }
                continue;
            }
        }
        if (r->status == ST_NONE || !same_content(s, &m, r->content)) {
            (*corrupt_out)++;
            if (verbose) {
                fprintf(stderr, "%s: %s corrupt seq %llu at cut %llu (status %u)\n", checking,
                        s->name, (unsigned long long)m.seq, (unsigned long long)cut_points,
                        r->status);
            }
            continue;
        }
        r->seen = 1;
    }
    if (count != state.msgs) {
        fail("state msgs differs from what load_next returns", count);
    }
    for (uint32_t i = 0; i < s->active_count; i++) {
        uint32_t seq = s->active[i];
        model_rec *r = &s->recs[seq];
        if (r->status == ST_DURABLE && !r->seen && !maybe_evicted[i]) {
            (*lost_out)++;
            /* After a bit flip, losses are expected (and must be reported). */
            if (verbose && (update || cut_points >= trace_from)) {
                fprintf(stderr, "%s: %s lost durable seq %u at cut %llu\n", checking, s->name, seq,
                        (unsigned long long)cut_points);
            }
        }
    }
    if (!update) {
        return;
    }
    for (uint32_t i = 0; i < s->active_count; i++) {
        uint32_t seq = s->active[i];
        model_rec *r = &s->recs[seq];
        if (r->seen) {
            if (r->status != ST_DURABLE) {
                r->status = ST_PENDING;
            }
        } else {
            r->status = seq <= state.last_seq ? ST_GONE : ST_NONE;
        }
        r->seen = 0;
    }
    active_compact(s);
    /* A record that came back although gone is live again for the model. */
    from = 1;
    ne_store_reader_init(&reader);
    for (uint32_t guard = 0; guard < MAX_SEQ; guard++) {
        ne_store_msg m;
        int rc = ne_store_read_next(st, &reader, from, NULL, 0, &m, load_buf, sizeof(load_buf));
        if (rc != NE_OK || m.seq >= MAX_SEQ) {
            break;
        }
        from = m.seq + 1;
        model_rec *r = &s->recs[m.seq];
        if (r->status != ST_PENDING && r->status != ST_DURABLE) {
            r->status = ST_PENDING;
            active_add(s, (uint32_t)m.seq);
        }
    }
}

static void check_consumer(void)
{
    ne_store_consumer *c = &cons.c;
    if (cut_points >= trace_from) {
        fprintf(stderr, "C log first %llu last %llu msgs %llu corrupt %llu pending %u:",
                (unsigned long long)c->log.state.first_seq,
                (unsigned long long)c->log.state.last_seq, (unsigned long long)c->log.state.msgs,
                (unsigned long long)c->log.state.corrupt_records, c->pending_count);
        for (uint32_t i = 0; i < c->pending_count; i++) {
            fprintf(stderr, " %llu", (unsigned long long)c->pending[i].stream_seq);
        }
        fprintf(stderr, "\n");
    }
    for (uint32_t sseq = 1; sseq < cons.next_stream_seq && sseq < MAX_CSEQ; sseq++) {
        bool pending = ne_store_consumer_find(c, sseq) != NULL;
        switch (cons.status[sseq]) {
        case CS_ACKED:
            if (pending) {
                lost++;
                if (verbose) {
                    fprintf(stderr,
                            "recovery: consumer ack of %u lost (pending again) at cut %llu\n", sseq,
                            (unsigned long long)cut_points);
                }
            }
            break;
        case CS_DELIVERED:
            if (!pending) {
                lost++;
                if (verbose) {
                    fprintf(stderr, "recovery: consumer delivery of %u lost at cut %llu\n", sseq,
                            (unsigned long long)cut_points);
                }
            }
            break;
        case CS_NONE:
            if (pending) {
                corrupt_returned++;
            }
            break;
        default:
            break;
        }
        /* Not pending: acked, or a delivery that was not durable. */
        uint8_t gone = cons.status[sseq] == CS_NONE || cons.status[sseq] == CS_DELIVERED_PENDING
                           ? CS_NONE
                           : CS_ACKED;
        cons.status[sseq] = pending ? CS_DELIVERED : gone;
    }
    for (uint32_t i = 0; i < c->pending_count; i++) {
        if (c->pending[i].stream_seq >= cons.next_stream_seq) {
            corrupt_returned++;
        }
    }
    if (c->delivered.stream_seq < cons.durable_delivered) {
        fail("consumer delivered went back", c->delivered.stream_seq);
    }
    if (c->delivered.stream_seq >= cons.next_stream_seq) {
        cons.next_stream_seq = (uint32_t)c->delivered.stream_seq + 1;
    }
    if (c->delivered.consumer_seq >= cons.next_delivery) {
        cons.next_delivery = c->delivered.consumer_seq + 1;
    }
    cons.durable_delivered = c->delivered.stream_seq;
}

static void check_raft(void)
{
    ne_store_raft *r = &raft.r;
    if (raft.tv_in_doubt) {
        bool old = r->term == raft.term && r->vote == raft.vote;
        bool new = r->term == raft.term_pending && r->vote == raft.vote_pending;
        if (!old && !new) {
            fail("raft term and vote neither old nor new", r->term);
        }
        raft.tv_in_doubt = false;
    } else if (r->term != raft.term || r->vote != raft.vote) {
        fail("raft term or vote lost", r->term);
    }
    raft.term = r->term;
    raft.vote = r->vote;
    if (r->snapshot_index < raft.durable_floor) {
        fail("raft snapshot went back", r->snapshot_index);
    }
    raft.durable_floor = r->snapshot_index;
    uint64_t first = ne_store_raft_first_index(r);
    uint64_t last = ne_store_raft_last_index(r);
    if (first > r->snapshot_index + 1) {
        /* Entries held, but not the one right after the snapshot. */
        fail("raft log starts after a hole", first);
    }
    for (uint64_t i = raft.durable_floor + 1; i <= raft.last || i <= last; i++) {
        if (i >= MAX_RAFT) {
            break;
        }
        raft_entry *e = &raft.entries[i];
        bool present = first != 0 && i >= first && i <= last;
        uint8_t got[512];
        size_t len = 0;
        uint64_t term = 0;
        if (present) {
            int rc = ne_store_raft_entry(r, i, &term, got, sizeof(got), &len);
            if (rc != NE_OK) {
                fail("raft entry unreadable", i);
                if (verbose) {
                    fprintf(stderr, "raft entry %llu: %s (first %llu last %llu msgs %llu)\n",
                            (unsigned long long)i, ne_err_name(rc), (unsigned long long)first,
                            (unsigned long long)last, (unsigned long long)r->log.state.msgs);
                }
                present = false;
            }
        }
        if (present) {
            uint8_t want[512];
            size_t want_len = raft_payload(e->content, want);
            bool match = (e->status == ST_PENDING || e->status == ST_DURABLE ||
                          e->status == ST_DEL_PENDING) &&
                         term == e->term && len == want_len && memcmp(got, want, len) == 0;
            if (!match) {
                if (e->status == ST_DELETED) {
                    resurrected++;
                } else {
                    corrupt_returned++;
                }
                if (verbose) {
                    fprintf(stderr, "recovery: raft entry %llu wrong (status %u)\n",
                            (unsigned long long)i, e->status);
                }
            }
        } else if (e->status == ST_DURABLE && i > r->snapshot_index) {
            lost++;
            if (verbose) {
                fprintf(stderr, "recovery: raft entry %llu lost\n", (unsigned long long)i);
            }
        }
        if (!present && (e->status == ST_PENDING || e->status == ST_DEL_PENDING)) {
            e->status = ST_NONE;
        }
        if (present && e->status == ST_DEL_PENDING) {
            e->status = ST_PENDING;
        }
    }
    raft.last = last;
}

static void check_catalogue(void)
{
    ne_store_entry e;
    int rc = ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, "TEMP", 4, &e, entry_buf,
                               sizeof(entry_buf));
    bool exists = rc == NE_OK;
    if ((cat.state == TEMP_PRESENT && !exists) || (cat.state == TEMP_ABSENT && exists)) {
        fail("catalogue: TEMP in the wrong state", (uint64_t)cat.state);
    }
    if (exists) {
        ne_store_config cfg = {.subjects = temp_subjects, .subject_capacity = 8};
        if (ne_store_attach(&temp_store, &dev, e.id, &cfg) != NE_OK) {
            fail("catalogue: TEMP cannot be attached", e.id);
        } else {
            (void)ne_store_detach(&temp_store);
        }
        cat.id = e.id;
    }
    cat.state = exists ? TEMP_PRESENT : TEMP_ABSENT;
    rc =
        ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, "S0", 2, &e, entry_buf, sizeof(entry_buf));
    if (rc != NE_OK) {
        fail("catalogue: S0 lost", (uint64_t)-rc);
        return;
    }
    uint64_t v = 0;
    if (e.config_len < 2 || e.config[0] != 'v') {
        fail("catalogue: S0's configuration undecodable", e.config_len);
        return;
    }
    for (size_t i = 1; i < e.config_len; i++) {
        v = v * 10 + (uint64_t)(e.config[i] - '0');
    }
    if (v != cat.config_version && (cat.config_in_doubt == 0 || v != cat.config_in_doubt)) {
        fail("catalogue: S0's configuration neither old nor new", v);
    }
    cat.config_version = v;
    cat.config_in_doubt = 0;
}

/* Opens a copy of the device with one bit flipped in its written area. */
static ne_store flip_stores[STREAMS];
static ne_store_subject flip_subjects[STREAMS][32];
static char flip_text[STREAMS][1024];
static ne_store_consumer flip_consumer;
static ne_store_pending flip_pending[PENDING_CAP];
static ne_store_raft flip_raft;

static void check_bit_flip(void)
{
    ne_flash_geometry g = sim.flash.geometry;
    uint32_t bytes = g.block_count * g.erase_bytes;
    ne_sim_flash_init(&flip_sim, g, flip_image, flip_erase_counts, NULL, rnd());
    memcpy(flip_image, image, bytes);
    uint32_t addr = 0;
    for (int tries = 0; tries < 64; tries++) {
        addr = rnd_below(bytes);
        if (flip_image[addr] != 0xff) {
            break;
        }
    }
    ne_sim_flash_flip_bit(&flip_sim, addr, rnd_below(8));
    flips_done++;
    if (ne_store_dev_open(&flip_dev, &flip_sim.flash, &table) != NE_OK) {
        /* Refusing the device is a safe outcome (a header claiming another
         * format); nothing wrong was returned. */
        flips_detected++;
        return;
    }
    uint64_t l = 0;
    uint64_t c = 0;
    uint64_t res = 0;
    bool reported = flip_dev.damage_count > 0;
    checking = "bit flip";
    for (int k = 0; k < STREAMS; k++) {
        ne_store_entry e;
        if (ne_store_dev_find(&flip_dev, NE_STORE_KIND_STREAM, 0, names[k], 2, &e, entry_buf,
                              sizeof(entry_buf)) != NE_OK) {
            /* Its catalogue entry rotted: its blocks are reported orphans. */
            reported = reported || flip_dev.damage_count > 0;
            if (!reported) {
                fail("bit flip lost a stream without reporting it", (uint64_t)k);
            }
            continue;
        }
        ne_store_config cfg = {.subjects = flip_subjects[k],
                               .subject_capacity = 32,
                               .subject_text = flip_text[k],
                               .subject_text_bytes = sizeof(flip_text[k])};
        cfg.limits.discard = streams[k].limits.discard;
        if (ne_store_attach(&flip_stores[k], &flip_dev, e.id, &cfg) != NE_OK) {
            reported = true;
            continue;
        }
        uint64_t lk = 0;
        check_stream(&streams[k], &flip_stores[k], false, &lk, &c, &res);
        l += lk;
        reported = reported || flip_stores[k].state.corrupt_records > 0;
    }
    checking = "recovery";
    /* The consumer and RAFT logs must open or refuse, never crash. */
    ne_store_consumer_config ccfg = {.ack_policy = NE_STORE_ACK_EXPLICIT,
                                     .pending = flip_pending,
                                     .pending_capacity = PENDING_CAP,
                                     .snapshot_buf = snapshot_buf,
                                     .snapshot_bytes = sizeof(snapshot_buf)};
    (void)ne_store_consumer_attach(&flip_consumer, &flip_dev, cons.id, &ccfg);
    (void)ne_store_raft_attach(&flip_raft, &flip_dev, raft.id);
    ne_store_dev_stats stats;
    ne_store_dev_get_stats(&flip_dev, &stats);
    reported = reported || stats.corrupt_frames > 0 || stats.damaged_blocks > 0;
    corrupt_returned += c;
    if (l > 0 && !reported) {
        fail("bit flip lost records without reporting it", l);
    }
    if (reported || l > 0 || res > 0) {
        flips_detected++;
    } else {
        flips_harmless++;
    }
}

/* ---- Driver -------------------------------------------------------------------------- */

static void run_until_cut(void)
{
    uint32_t window = rnd_below(8) == 0 ? 400 : 60;
    ne_sim_flash_cut_after(&sim, 1 + rnd_below(window));
    for (uint32_t i = 0; i < 100000; i++) {
        int rc = step();
        if (cut_points >= trace_from) {
            fprintf(stderr, "cut %llu: %s -> %s [S1 %llu/%u C %llu..%llu snap %llu pend %u]\n",
                    (unsigned long long)cut_points, last_op, ne_err_name(rc),
                    (unsigned long long)streams[1].store.state.msgs, live_count(&streams[1]),
                    (unsigned long long)cons.c.log.state.first_seq,
                    (unsigned long long)cons.c.log.state.last_seq,
                    (unsigned long long)cons.c.snapshot_seq, cons.c.pending_count);
        }
        if (rc == NE_ERR_POWER_LOSS) {
            return;
        }
        if (rc != NE_OK) {
            fprintf(stderr, "powercut: workload step failed: %s (%s)\n", ne_err_name(rc), last_op);
            fail("workload step failed", 0);
            return;
        }
    }
    fail("power never failed", 0);
}

/* After recovery every log takes new writes. */
static void check_writable(void)
{
    for (int k = 0; k < STREAMS; k++) {
        int rc = stream_append(&streams[k], false);
        if (rc != NE_OK) {
            fprintf(stderr, "append after recovery: %s (%s)\n", ne_err_name(rc), last_op);
            fail("append after recovery failed", (uint64_t)k);
            return;
        }
    }
    if (sync_all() != NE_OK) {
        fail("sync after recovery failed", 0);
    }
}

static void accumulate_stats(void)
{
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&dev, &st);
    totals.compactions += st.compactions;
    totals.blocks_reclaimed += st.blocks_reclaimed;
    totals.records_moved += st.records_moved;
    totals.wear_moves += st.wear_moves;
    totals.packs_written += st.packs_written;
    totals.torn_tails += st.torn_tails;
    totals.rewrites += st.rewrites;
    totals.buffer_switches += st.buffer_switches;
}

int main(int argc, char **argv)
{
    uint64_t cuts = 1000;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cuts") == 0 && i + 1 < argc) {
            cuts = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
            trace_from = strtoull(argv[++i], NULL, 10);
            verbose = true;
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else {
            fprintf(stderr, "usage: %s [--cuts N] [--seed S] [--verbose] [--trace CUT]\n", argv[0]);
            return 2;
        }
    }
    rng_state = mix(seed) | 1;
    for (int k = 0; k < STREAMS; k++) {
        streams[k].name = names[k];
    }
    set_stream_limits();
    clock_t started = clock();
    uint32_t device = 0;
    new_device(device);
    for (cut_points = 0; cut_points < cuts;) {
        if (cut_points > 0 && cut_points % 250 == 0) {
            new_device(++device);
        }
        run_until_cut();
        cut_points++;
        cuts_in[sim.last_cut_was_sync ? 2 : sim.last_cut_was_erase ? 1 : 0]++;
        accumulate_stats();
        ne_sim_flash_power_on(&sim);
        if (cut_points >= trace_from) {
            trace_blocks("after the cut");
        }
        int rc = open_all();
        if (rc != NE_OK) {
            fprintf(stderr, "powercut: recovery failed: %s\n", ne_err_name(rc));
            fail("recovery failed", 0);
            new_device(++device);
            continue;
        }
        for (int k = 0; k < STREAMS; k++) {
            check_stream(&streams[k], &streams[k].store, true, &lost, &corrupt_returned,
                         &resurrected);
        }
        check_consumer();
        check_raft();
        check_catalogue();
        apply_stream_limits();
        if (cut_points % 8 == 0) {
            check_bit_flip();
        }
        check_writable();
        if (sim.violations != 0) {
            fail("a program unit was programmed twice", sim.violations);
            sim.violations = 0;
        }
    }
    double seconds = (double)(clock() - started) / CLOCKS_PER_SEC;
    printf("powercut: seed %llu, %llu devices, cuts in programs %llu, erases %llu, syncs %llu, "
           "%.1f s\n",
           (unsigned long long)seed, (unsigned long long)device + 1, (unsigned long long)cuts_in[0],
           (unsigned long long)cuts_in[1], (unsigned long long)cuts_in[2], seconds);
    printf("steps: %llu (appends %llu, deletes %llu, purges %llu, truncations %llu, skips %llu, "
           "expiries %llu, consumer %llu, raft %llu, catalogue %llu, compactions %llu, syncs "
           "%llu)\n",
           (unsigned long long)steps_total, (unsigned long long)op_counts[0],
           (unsigned long long)op_counts[1], (unsigned long long)op_counts[2],
           (unsigned long long)op_counts[3], (unsigned long long)op_counts[4],
           (unsigned long long)op_counts[5], (unsigned long long)op_counts[6],
           (unsigned long long)op_counts[7], (unsigned long long)op_counts[8],
           (unsigned long long)op_counts[9], (unsigned long long)op_counts[10]);
    printf("work: %llu compactions reclaimed %llu blocks, moved %llu records, %llu rewrites, "
           "%llu wear moves, %llu packs compressed, %llu buffer switches, %llu torn block ends\n",
           (unsigned long long)totals.compactions, (unsigned long long)totals.blocks_reclaimed,
           (unsigned long long)totals.records_moved, (unsigned long long)totals.rewrites,
           (unsigned long long)totals.wear_moves, (unsigned long long)totals.packs_written,
           (unsigned long long)totals.buffer_switches, (unsigned long long)totals.torn_tails);
    printf("bit flips: %llu, detected %llu, in dead or unused bytes %llu\n",
           (unsigned long long)flips_done, (unsigned long long)flips_detected,
           (unsigned long long)flips_harmless);
    printf("syncs refused for a full device: %llu, appends refused after removals: %llu\n",
           (unsigned long long)syncs_refused, (unsigned long long)dropped_then_refused);
    printf("deletions resurrected: %llu, other failures: %llu\n", (unsigned long long)resurrected,
           (unsigned long long)other_failures);
    printf("cut points: %llu, acknowledged records lost: %llu, corrupt records returned: %llu\n",
           (unsigned long long)cut_points, (unsigned long long)lost,
           (unsigned long long)corrupt_returned);
    return (lost != 0 || corrupt_returned != 0 || resurrected != 0 || other_failures != 0) ? 1 : 0;
}
