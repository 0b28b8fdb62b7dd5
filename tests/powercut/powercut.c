/* Power-loss test of the flash store (make powercut CUTS=<n> SEED=<s>).
 *
 * A mixed workload (appends of varied records, deletes, purges by subject,
 * up to a sequence and keeping N, per-subject limits, explicit compaction,
 * syncs) runs on the simulated flash. At each cut point power fails during
 * a random program or erase a few operations ahead (the operation is torn).
 * Then the store is opened again from the flash alone and checked against a
 * model of what the workload did:
 *
 *   - "Acknowledged durable" means: the append (or delete, or purge)
 *     returned NE_OK and a later ne_store_sync returned NE_OK. Every such
 *     record must come back byte-exact (subject, headers, payload, time);
 *     every such deletion must stay deleted.
 *   - A change not yet synced may or may not survive, but a record that
 *     comes back must be byte-exact: anything else is a corrupt record.
 *   - A record that is gone after a recovery must stay gone after later
 *     recoveries (its sequence is only ever reused if it was above the
 *     recovered last sequence).
 *   - Sequences come back strictly increasing, the counts match, the
 *     simulated device never had a unit programmed twice, and the store
 *     takes new writes.
 *
 * Every 8th cut point, a copy of the recovered device also gets one bit
 * flipped in its written area and is opened on its own: no record that
 * comes back may differ from the model (the CRC must catch the flip), and a
 * durable record that is missing must be reported (corrupt_records).
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
#include "store/ne_store_dev.h"
#include "store/ne_store_format.h"

#define MAX_BLOCKS 24
#define MAX_ERASE 8192
#define IMAGE_BYTES (MAX_BLOCKS * MAX_ERASE)
#define MAX_SEQ (1u << 18)
#define SUBJECT_COUNT 12
#define MAX_MSGS 48
#define MAX_PER_SUBJECT 6
#define MAX_PAYLOAD 700
#define MAX_ACTIVE 4096

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

static model_rec model[MAX_SEQ];
static uint32_t active[MAX_ACTIVE]; /* seqs in PENDING, DURABLE or DEL_PENDING */
static uint32_t active_count;

static ne_store store;
static ne_store_dev fs;
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static ne_store_subject subjects[32];
static ne_sim_flash sim;
static uint8_t image[IMAGE_BYTES];
static uint32_t erase_counts[MAX_BLOCKS];
static uint8_t programmed[IMAGE_BYTES / 8 + 1];
static uint8_t durable[IMAGE_BYTES];
static uint8_t dirty[IMAGE_BYTES / 8 + 1];
static ne_snappy_table table;

/* The bit-flip copy. */
static ne_store flip_store;
static ne_store_dev flip_fs;
static ne_store_subject flip_subjects[32];
static ne_sim_flash flip_sim;
static uint8_t flip_image[IMAGE_BYTES];
static uint32_t flip_erase_counts[MAX_BLOCKS];

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
static uint64_t torn_erases;
static uint64_t torn_programs;
static uint64_t torn_syncs;
static ne_store_dev_stats totals;
static bool verbose;
static bool paranoid; /* check the store against the model after every step */
static const char *checking = "recovery";
static char last_op[128];

/* The devices the workload runs on, in turn: NOR-like chips (a cut tears
 * the operation in progress, everything before it is on the medium), then
 * devices behind a write cache (SD, eMMC, a file: a cut keeps any subset of
 * the cache lines written since the last sync, possibly one torn, and may
 * fall during a sync; a full cache writes lines back early). */
typedef struct device_kind {
    ne_flash_geometry geometry;
    uint32_t cache_line_bytes; /* 0: no cache */
    uint32_t cache_capacity_lines;
    uint32_t writeback_per_mille;
} device_kind;

static const device_kind devices[] = {
    {{.program_bytes = 16, .erase_bytes = 4096, .block_count = 16}, 0, 0, 0},
    {{.program_bytes = 256, .erase_bytes = 4096, .block_count = 20}, 0, 0, 0},
    {{.program_bytes = 8, .erase_bytes = 2048, .block_count = 24}, 0, 0, 0},
    {{.program_bytes = 64, .erase_bytes = 8192, .block_count = 10}, 0, 0, 0},
    {{.program_bytes = 16, .erase_bytes = 4096, .block_count = 16}, 512, 0, 0},
    {{.program_bytes = 256, .erase_bytes = 4096, .block_count = 20}, 256, 8, 50},
    {{.program_bytes = 8, .erase_bytes = 2048, .block_count = 24}, 64, 32, 20},
    {{.program_bytes = 64, .erase_bytes = 8192, .block_count = 10}, 4096, 0, 100},
};

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

static void fail(const char *what, uint64_t seq)
{
    other_failures++;
    if (other_failures < 20) {
        fprintf(stderr, "powercut: %s (seq %llu, cut point %llu)\n", what, (unsigned long long)seq,
                (unsigned long long)cut_points);
    }
}

/* ---- Content -------------------------------------------------------------- */

typedef struct content {
    char subject[32];
    size_t subject_len;
    char headers[64];
    size_t headers_len;
    uint8_t payload[MAX_PAYLOAD];
    size_t payload_len;
    uint64_t ts;
} content;

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    x ^= x >> 33;
    return x;
}

static uint32_t subject_of(uint32_t id)
{
    return (uint32_t)(mix(id) % SUBJECT_COUNT);
}

static size_t subject_name(uint32_t subject, char *out, size_t cap)
{
    return (size_t)snprintf(out, cap, "%s.%u", subject < 4 ? "kv.bucket" : "telemetry.site",
                            subject);
}

static void make_content(uint32_t id, content *c)
{
    uint64_t h = mix(id * 2654435761u + 17);
    c->subject_len = subject_name(subject_of(id), c->subject, sizeof(c->subject));
    c->headers_len = 0;
    if (h & 1) {
        c->headers_len =
            (size_t)snprintf(c->headers, sizeof(c->headers), "NATS/1.0\r\nX-Id: %u\r\n\r\n", id);
    }
    size_t len = (size_t)((h >> 8) % MAX_PAYLOAD);
    if ((h >> 4) % 8 == 0) {
        len = 0;
    }
    c->payload_len = len;
    uint64_t r = h;
    for (size_t i = 0; i < len; i++) {
        if ((h >> 2) & 1) {
            /* Compressible: JSON-ish telemetry. */
            static const char text[] = "{\"temp\":21.5,\"hum\":40,\"site\":\"plant-7\"} ";
            c->payload[i] = (uint8_t)text[(i + id) % (sizeof(text) - 1)];
        } else {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            c->payload[i] = (uint8_t)(r >> 56);
        }
    }
    c->ts = 1700000000000000000ull + (uint64_t)id * 1000;
}

static bool same_content(const ne_store_msg *m, uint32_t id)
{
    static content c;
    make_content(id, &c);
    return m->subject_len == c.subject_len && memcmp(m->subject, c.subject, c.subject_len) == 0 &&
           m->headers_len == c.headers_len &&
           (c.headers_len == 0 || memcmp(m->headers, c.headers, c.headers_len) == 0) &&
           m->payload_len == c.payload_len &&
           (c.payload_len == 0 || memcmp(m->payload, c.payload, c.payload_len) == 0) &&
           m->timestamp_ns == c.ts;
}

/* ---- Model ---------------------------------------------------------------- */

static void active_add(uint32_t seq)
{
    if (active_count >= MAX_ACTIVE) {
        fail("model active set overflow", seq);
        return;
    }
    active[active_count++] = seq;
}

/* Drops DELETED/GONE/NONE entries from the active set. */
static void active_compact(void)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < active_count; i++) {
        uint8_t st = model[active[i]].status;
        if (st == ST_PENDING || st == ST_DURABLE || st == ST_DEL_PENDING) {
            active[n++] = active[i];
        }
    }
    active_count = n;
}

static bool is_live(uint32_t seq)
{
    uint8_t st = model[seq].status;
    return st == ST_PENDING || st == ST_DURABLE;
}

static uint32_t live_count(int subject)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < active_count; i++) {
        uint32_t seq = active[i];
        if (is_live(seq) && (subject < 0 || subject_of(model[seq].content) == (uint32_t)subject)) {
            n++;
        }
    }
    return n;
}

/* Oldest live record (of a subject, or any with subject < 0). */
static uint32_t oldest_live(int subject)
{
    uint32_t best = 0;
    for (uint32_t i = 0; i < active_count; i++) {
        uint32_t seq = active[i];
        if (is_live(seq) && (subject < 0 || subject_of(model[seq].content) == (uint32_t)subject) &&
            (best == 0 || seq < best)) {
            best = seq;
        }
    }
    return best;
}

static void model_remove(uint32_t seq)
{
    model[seq].status = ST_DEL_PENDING;
}

static void model_sync(void)
{
    for (uint32_t i = 0; i < active_count; i++) {
        model_rec *r = &model[active[i]];
        if (r->status == ST_PENDING) {
            r->status = ST_DURABLE;
        } else if (r->status == ST_DEL_PENDING) {
            r->status = ST_DELETED;
        }
    }
    active_compact();
}

/* Opening drops what is over the limits (removals a cut undid): per
 * subject first, then the total, oldest first. */
static void model_reapply_limits(void)
{
    for (int subject = 0; subject < SUBJECT_COUNT; subject++) {
        for (uint32_t n = live_count(subject); n > MAX_PER_SUBJECT; n--) {
            model_remove(oldest_live(subject));
        }
    }
    for (uint32_t n = live_count(-1); n > MAX_MSGS; n--) {
        model_remove(oldest_live(-1));
    }
}

/* ---- Store ---------------------------------------------------------------- */

static const ne_store_limits limits = {
    .max_msgs = MAX_MSGS, .max_msgs_per_subject = MAX_PER_SUBJECT, .discard = NE_STORE_DISCARD_NEW};

/* Opened without limits, so that the check sees exactly what the flash
 * holds; the limits are set right after (dropping what a cut brought back
 * over them, as opening with them would). */
static int open_stream(ne_store *st, ne_store_dev *d, ne_store_subject *subj, const ne_flash *flash)
{
    ne_store_config cfg = {.subjects = subj, .subject_capacity = 32};
    cfg.limits.discard = NE_STORE_DISCARD_NEW;
    int rc = ne_store_dev_open(d, flash, &table);
    if (rc != NE_OK) {
        return rc;
    }
    ne_store_entry e;
    uint32_t id = 0;
    rc = ne_store_dev_find(d, NE_STORE_KIND_STREAM, 0, "S", 1, &e, entry_buf, sizeof(entry_buf));
    if (rc == NE_ERR_NOT_FOUND) {
        rc = ne_store_dev_create(d, NE_STORE_KIND_STREAM, 0, "S", 1, NULL, 0, &id);
    } else {
        id = e.id;
    }
    if (rc != NE_OK) {
        return rc;
    }
    return ne_store_attach(st, d, id, &cfg);
}

static int open_main(void)
{
    return open_stream(&store, &fs, subjects, &sim.flash);
}

/* ---- Workload --------------------------------------------------------------- */

static uint64_t store_last_seq(void)
{
    ne_store_state st;
    ne_store_get_state(&store, &st);
    return st.last_seq;
}

/* One step of the workload. Returns the store's result; on NE_OK the model
 * follows; on a power loss every effect the step might have had is applied
 * as not yet durable (it may or may not survive). */
static int step(void)
{
    uint32_t dice = rnd_below(100);
    if (dice < 55) {
        uint32_t id = next_content++;
        static content c;
        make_content(id, &c);
        ne_store_msg m = {.subject = c.subject,
                          .subject_len = c.subject_len,
                          .headers = (const uint8_t *)c.headers,
                          .headers_len = c.headers_len,
                          .payload = c.payload,
                          .payload_len = c.payload_len,
                          .timestamp_ns = c.ts};
        int subject = (int)subject_of(id);
        bool at_subject_limit = live_count(subject) >= MAX_PER_SUBJECT;
        if (!at_subject_limit && live_count(-1) + 1 > MAX_MSGS) {
            uint64_t seq;
            int rc = ne_store_append(&store, &m, &seq);
            if (rc == NE_OK) {
                fail("append over max_msgs accepted", seq);
            }
            return rc == NE_ERR_FULL ? NE_OK : rc;
        }
        uint32_t expect = (uint32_t)store_last_seq() + 1;
        if (expect >= MAX_SEQ) {
            return NE_OK;
        }
        uint64_t seq = 0;
        int rc = ne_store_append(&store, &m, &seq);
        snprintf(last_op, sizeof(last_op), "append %u subject %d at_limit %d -> %s", expect,
                 subject, at_subject_limit, ne_err_name(rc));
        if (rc == NE_ERR_FULL) {
            return NE_OK; /* no room: nothing changed */
        }
        if (rc != NE_OK && rc != NE_ERR_POWER_LOSS) {
            return rc;
        }
        if (rc == NE_OK && seq != expect) {
            fail("unexpected sequence", seq);
        }
        model[expect].content = id;
        model[expect].status = ST_PENDING;
        active_add(expect);
        if (at_subject_limit) {
            uint32_t old = oldest_live(subject);
            if (old != 0 && old != expect) {
                model_remove(old);
            }
        }
        return rc;
    }
    if (dice < 67) {
        uint32_t live = live_count(-1);
        if (live == 0) {
            return NE_OK;
        }
        uint32_t pick = rnd_below(live);
        uint32_t seq = 0;
        for (uint32_t i = 0; i < active_count; i++) {
            if (is_live(active[i]) && pick-- == 0) {
                seq = active[i];
                break;
            }
        }
        int rc = ne_store_delete(&store, seq);
        snprintf(last_op, sizeof(last_op), "delete %u -> %s", seq, ne_err_name(rc));
        if (rc == NE_OK || rc == NE_ERR_POWER_LOSS) {
            model_remove(seq);
            return rc;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    if (dice < 70) {
        ne_store_purge_req req = {0};
        char subject[32];
        uint32_t kind = rnd_below(3);
        int subj = -1;
        if (kind == 0) {
            subj = (int)rnd_below(SUBJECT_COUNT);
            req.subject_len = subject_name((uint32_t)subj, subject, sizeof(subject));
            req.subject = subject;
            req.keep = rnd_below(3);
        } else if (kind == 1) {
            uint32_t first = oldest_live(-1);
            req.up_to_seq = first + rnd_below(8) + 1;
        } else {
            req.keep = rnd_below(MAX_MSGS);
            if (req.keep == 0) {
                req.keep = 1;
            }
        }
        /* What the purge removes, oldest first. */
        uint32_t victims[MAX_ACTIVE];
        uint32_t n = 0;
        uint32_t matching = live_count(subj);
        uint32_t removable =
            req.keep != 0 ? (matching > req.keep ? matching - (uint32_t)req.keep : 0) : UINT32_MAX;
        for (uint32_t k = 0; k < removable; k++) {
            uint32_t seq = 0;
            for (uint32_t i = 0; i < active_count; i++) {
                uint32_t s = active[i];
                bool taken = false;
                for (uint32_t j = 0; j < n; j++) {
                    taken = taken || victims[j] == s;
                }
                if (is_live(s) && !taken &&
                    (subj < 0 || subject_of(model[s].content) == (uint32_t)subj) &&
                    (seq == 0 || s < seq)) {
                    seq = s;
                }
            }
            if (seq == 0 || (req.up_to_seq != 0 && seq >= req.up_to_seq)) {
                break;
            }
            victims[n++] = seq;
        }
        uint64_t purged = 0;
        int rc = ne_store_purge(&store, &req, &purged);
        snprintf(last_op, sizeof(last_op),
                 "purge subj %d up_to %llu keep %llu -> %s (%llu, model %u)", subj,
                 (unsigned long long)req.up_to_seq, (unsigned long long)req.keep, ne_err_name(rc),
                 (unsigned long long)purged, n);
        if (rc == NE_OK && purged != n) {
            fail("purge removed an unexpected number", purged);
        }
        if (rc == NE_OK || rc == NE_ERR_POWER_LOSS) {
            for (uint32_t j = 0; j < n; j++) {
                model_remove(victims[j]);
            }
            return rc;
        }
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    if (dice < 73) {
        uint32_t reclaimed;
        snprintf(last_op, sizeof(last_op), "compact");
        return ne_store_compact(&store, &reclaimed);
    }
    snprintf(last_op, sizeof(last_op), "sync");
    int rc = ne_store_sync(&store);
    if (rc == NE_OK) {
        model_sync();
    }
    return rc;
}

/* ---- Checking --------------------------------------------------------------- */

static void dump_records(ne_store_dev *f, uint64_t seq)
{
    for (uint32_t i = 0; i < f->block_count; i++) {
        ne_store_block *b = &f->blocks[i];
        if (b->state != 4) {
            continue;
        }
        (void)seq;
        sf_cursor c;
        sf_cursor_init(f, &c, i, true);
        fprintf(stderr, "  block %u:", i);
        for (int k = 0; k < 2000; k++) {
            sf_rec rec;
            sf_frame fr;
            int r = sf_cursor_next(f, &c, &rec, &fr);
            if (r < 0 || r == SF_END) {
                break;
            }
            if (r == SF_REC) {
                fprintf(stderr, " %llu/%u%s", (unsigned long long)rec.seq, rec.ordinal,
                        sf_deleted(f, i, rec.ordinal) ? "d" : "");
            } else if (r == SF_OTHER) {
                fprintf(stderr, " [%c@%u len %u", fr.type, fr.off, fr.len);
                if (fr.type == SF_DEL && fr.len <= 2048) {
                    static uint8_t body[2048];
                    sf_read(f, i, fr.off + 16, body, fr.len);
                    for (uint32_t e = 0; e < fr.len / 32; e++) {
                        fprintf(stderr, " %llu@%llu/%u",
                                (unsigned long long)sf_get64(body + 32 * e),
                                (unsigned long long)sf_get64(body + 32 * e + 8),
                                sf_get16(body + 32 * e + 16));
                    }
                }
                fprintf(stderr, "]");
            } else {
                fprintf(stderr, " BAD(%d)", r);
            }
        }
        fprintf(stderr, "\n");
    }
}

static void dump_blocks(const ne_store_dev *f)
{
    const ne_store_slot *sl = &f->slots[1];
    fprintf(stderr, "  head %d floor %llu next %llu order:", sl->head,
            (unsigned long long)sl->floor_seq, (unsigned long long)sl->next_seq);
    for (uint32_t i = 0; i < f->order_count; i++) {
        fprintf(stderr, " %u", f->order[i]);
    }
    fprintf(stderr, "\n");
    for (uint32_t i = 0; i < f->block_count; i++) {
        const ne_store_block *b = &f->blocks[i];
        fprintf(
            stderr,
            "  blk %2u st %u kind %u fl %02x log %u serial %4llu seq %6llu..%6llu rec %3u live %3u "
            "dels %3u erase %u wo %u\n",
            i, b->state, b->kind, b->flags, b->log_id, (unsigned long long)b->serial,
            (unsigned long long)b->first_seq, (unsigned long long)b->last_seq, b->records,
            b->live_msgs, b->del_entries, b->erase_count, b->write_off);
    }
}

static uint8_t load_buf[4096];

/* Walks the recovered store and compares it with the model. With `update`,
 * the model then follows what came back. */
static void check_store(ne_store *s, bool update, uint64_t *lost_out, uint64_t *corrupt_out,
                        uint64_t *resurrected_out)
{
    ne_store_state st;
    ne_store_get_state(s, &st);
    for (uint32_t i = 0; i < active_count; i++) {
        model[active[i]].seen = 0;
    }
    uint64_t from = 1;
    uint64_t prev = 0;
    uint64_t count = 0;
    for (uint32_t guard = 0; guard < MAX_SEQ; guard++) {
        ne_store_msg m;
        int rc = ne_store_load_next(s, from, NULL, 0, &m, load_buf, sizeof(load_buf));
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
        model_rec *r = &model[m.seq];
        if (r->status == ST_DELETED || r->status == ST_GONE) {
            (*resurrected_out)++;
            if (verbose) {
                fprintf(stderr, "%s: resurrected seq %llu at cut %llu (status %u)\n", checking,
                        (unsigned long long)m.seq, (unsigned long long)cut_points, r->status);
            }
            continue;
        }
        if (r->status == ST_NONE || !same_content(&m, r->content)) {
            (*corrupt_out)++;
            if (verbose) {
                fprintf(stderr, "%s: corrupt seq %llu (status %u)\n", checking,
                        (unsigned long long)m.seq, r->status);
            }
            continue;
        }
        r->seen = 1;
    }
    if (count != st.msgs) {
        fail("state msgs differs from what load_next returns", count);
        if (verbose) {
            fprintf(stderr, "%s: state msgs %llu, found %llu\n", checking,
                    (unsigned long long)st.msgs, (unsigned long long)count);
            dump_blocks(s == &store ? &fs : &flip_fs);
            dump_records(s == &store ? &fs : &flip_fs, 0);
        }
    }
    for (uint32_t i = 0; i < active_count; i++) {
        uint32_t seq = active[i];
        model_rec *r = &model[seq];
        if (r->status == ST_DURABLE && !r->seen) {
            (*lost_out)++;
            if (verbose) {
                ne_store_msg m;
                int rc = ne_store_load(s, seq, &m, load_buf, sizeof(load_buf));
                fprintf(stderr, "%s: lost durable seq %u at cut %llu (load: %s)\n", checking, seq,
                        (unsigned long long)cut_points, ne_err_name(rc));
                dump_blocks(s == &store ? &fs : &flip_fs);
                dump_records(s == &store ? &fs : &flip_fs, seq);
            }
        }
    }
    if (!update) {
        return;
    }
    for (uint32_t i = 0; i < active_count; i++) {
        uint32_t seq = active[i];
        model_rec *r = &model[seq];
        if (r->seen) {
            if (r->status != ST_DURABLE) {
                r->status = ST_PENDING;
            }
        } else {
            r->status = seq <= st.last_seq ? ST_GONE : ST_NONE;
        }
    }
    active_compact();
    /* A resurrected record is live again as far as the model goes. */
    from = 1;
    for (uint32_t guard = 0; guard < MAX_SEQ; guard++) {
        ne_store_msg m;
        int rc = ne_store_load_next(s, from, NULL, 0, &m, load_buf, sizeof(load_buf));
        if (rc != NE_OK || m.seq >= MAX_SEQ) {
            break;
        }
        from = m.seq + 1;
        model_rec *r = &model[m.seq];
        if (r->status == ST_DELETED || r->status == ST_GONE) {
            r->status = ST_PENDING;
            active_add((uint32_t)m.seq);
        }
    }
}

/* Opens a copy of the device with one bit flipped in its written area. */
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
    int rc = open_stream(&flip_store, &flip_fs, flip_subjects, &flip_sim.flash);
    if (rc != NE_OK) {
        /* Refusing the device is a safe outcome (a header claiming another
         * format); nothing wrong was returned. */
        flips_detected++;
        return;
    }
    uint64_t l = 0, c = 0, res = 0;
    checking = "bit flip";
    check_store(&flip_store, false, &l, &c, &res);
    checking = "recovery";
    ne_store_state st;
    ne_store_get_state(&flip_store, &st);
    ne_store_dev_stats stats;
    ne_store_dev_get_stats(&flip_fs, &stats);
    corrupt_returned += c;
    bool reported = st.corrupt_records > 0 || stats.corrupt_frames > 0 || stats.damaged_blocks > 0;
    if (l > 0 && !reported) {
        fail("bit flip lost records without reporting it", l);
    }
    if (reported || l > 0 || res > 0) {
        flips_detected++;
    } else {
        flips_harmless++;
    }
}

/* ---- Driver ----------------------------------------------------------------- */

static void new_device(uint32_t index)
{
    const device_kind *d = &devices[index % (sizeof(devices) / sizeof(devices[0]))];
    ne_sim_flash_init(&sim, d->geometry, image, erase_counts, programmed, rnd());
    if (d->cache_line_bytes != 0) {
        ne_sim_flash_use_cache(&sim, durable, dirty, d->cache_line_bytes, d->cache_capacity_lines,
                               d->writeback_per_mille);
    }
    memset(model, 0, sizeof(model));
    active_count = 0;
    if (open_main() != NE_OK || ne_store_set_limits(&store, &limits) != NE_OK) {
        fail("opening a new device failed", 0);
    }
}

/* Without a cut the store must hold exactly the model's live records:
 * pending ones count as present, pending removals as gone. */
static void paranoid_check(uint32_t step_index)
{
    static uint8_t saved[MAX_ACTIVE];
    uint32_t n = active_count;
    for (uint32_t k = 0; k < n; k++) {
        model_rec *r = &model[active[k]];
        saved[k] = r->status;
        if (r->status == ST_PENDING) {
            r->status = ST_DURABLE;
        } else if (r->status == ST_DEL_PENDING) {
            r->status = ST_DELETED;
        }
    }
    uint64_t l = 0, c = 0, res = 0;
    checking = "step";
    check_store(&store, false, &l, &c, &res);
    checking = "recovery";
    for (uint32_t k = 0; k < n; k++) {
        model[active[k]].status = saved[k];
    }
    if (l + c + res > 0) {
        fprintf(stderr,
                "paranoid: step %u (%s) diverged (lost %llu corrupt %llu resurrected %llu)\n",
                step_index, last_op, (unsigned long long)l, (unsigned long long)c,
                (unsigned long long)res);
        exit(3);
        fail("store diverged from the model", 0);
    }
}

/* Runs the workload until the power fails (bounded). */
static void run_until_cut(void)
{
    uint32_t window = rnd_below(8) == 0 ? 400 : 60;
    ne_sim_flash_cut_after(&sim, 1 + rnd_below(window));
    for (uint32_t i = 0; i < 100000; i++) {
        int rc = step();
        if (rc == NE_ERR_POWER_LOSS) {
            return;
        }
        if (paranoid && rc == NE_OK) {
            paranoid_check(i);
        }
        if (rc != NE_OK) {
            fprintf(stderr, "powercut: workload step failed: %s (%s)\n", ne_err_name(rc), last_op);
            fail("workload step failed", 0);
            if (verbose) {
                dump_blocks(&fs);
                dump_records(&fs, 0);
            }
            return;
        }
    }
    fail("power never failed", 0);
}

/* After recovery the store must take new writes. */
static void check_writable(void)
{
    ne_store_purge_req req = {.keep = MAX_MSGS / 2};
    uint64_t purged = 0;
    int rc = ne_store_purge(&store, &req, &purged);
    if (rc != NE_OK) {
        fail("purge after recovery failed", 0);
        return;
    }
    /* Keep the model in step: the purge removed the oldest. */
    for (uint64_t k = 0; k < purged; k++) {
        uint32_t old = oldest_live(-1);
        if (old != 0) {
            model_remove(old);
        }
    }
    uint32_t id = next_content++;
    static content c;
    make_content(id, &c);
    ne_store_msg m = {.subject = c.subject,
                      .subject_len = c.subject_len,
                      .headers = (const uint8_t *)c.headers,
                      .headers_len = c.headers_len,
                      .payload = c.payload,
                      .payload_len = c.payload_len,
                      .timestamp_ns = c.ts};
    int subject = (int)subject_of(id);
    bool at_limit = live_count(subject) >= MAX_PER_SUBJECT;
    uint64_t seq = 0;
    rc = ne_store_append(&store, &m, &seq);
    if (rc != NE_OK) {
        fprintf(stderr, "append after recovery: %s\n", ne_err_name(rc));
        fail("append after recovery failed", seq);
        return;
    }
    if (seq < MAX_SEQ) {
        model[seq].content = id;
        model[seq].status = ST_PENDING;
        active_add((uint32_t)seq);
        if (at_limit) {
            uint32_t old = oldest_live(subject);
            if (old != 0 && old != seq) {
                model_remove(old);
            }
        }
    }
    if (ne_store_sync(&store) != NE_OK) {
        fail("sync after recovery failed", seq);
        return;
    }
    model_sync();
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
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else if (strcmp(argv[i], "--paranoid") == 0) {
            paranoid = true;
        } else {
            fprintf(stderr, "usage: %s [--cuts N] [--seed S] [--verbose] [--paranoid]\n", argv[0]);
            return 2;
        }
    }
    rng_state = mix(seed) | 1;
    clock_t started = clock();
    uint32_t device = 0;
    new_device(device);
    for (cut_points = 0; cut_points < cuts;) {
        if (cut_points > 0 && cut_points % 250 == 0) {
            new_device(++device);
        }
        run_until_cut();
        cut_points++;
        if (sim.last_cut_was_sync) {
            torn_syncs++;
        } else if (sim.last_cut_was_erase) {
            torn_erases++;
        } else {
            torn_programs++;
        }
        ne_store_dev_stats st;
        ne_store_dev_get_stats(&fs, &st);
        totals.compactions += st.compactions;
        totals.blocks_reclaimed += st.blocks_reclaimed;
        totals.records_moved += st.records_moved;
        totals.wear_moves += st.wear_moves;
        totals.packs_written += st.packs_written;
        totals.torn_tails += st.torn_tails;
        ne_sim_flash_power_on(&sim);
        int rc = open_main();
        if (rc != NE_OK) {
            fprintf(stderr, "powercut: recovery failed: %s\n", ne_err_name(rc));
            fail("recovery failed", 0);
            new_device(++device);
            continue;
        }
        check_store(&store, true, &lost, &corrupt_returned, &resurrected);
        if (ne_store_set_limits(&store, &limits) != NE_OK) {
            fail("setting limits after recovery failed", 0);
        }
        model_reapply_limits();
        if (paranoid) {
            snprintf(last_op, sizeof(last_op), "recovery and limits");
            paranoid_check(0);
        }
        if (cut_points % 8 == 0) {
            check_bit_flip();
        }
        check_writable();
        if (paranoid) {
            snprintf(last_op, sizeof(last_op), "purge and append after recovery");
            paranoid_check(0);
        }
        if (sim.violations != 0) {
            fail("a program unit was programmed twice", sim.violations);
            sim.violations = 0;
        }
    }
    double seconds = (double)(clock() - started) / CLOCKS_PER_SEC;
    ne_store_dev_stats stats;
    ne_store_dev_get_stats(&fs, &stats);
    printf("powercut: seed %llu, %llu devices, cuts in programs %llu, erases %llu, syncs %llu, "
           "%.1f s\n",
           (unsigned long long)seed, (unsigned long long)device + 1,
           (unsigned long long)torn_programs, (unsigned long long)torn_erases,
           (unsigned long long)torn_syncs, seconds);
    printf("work: %llu compactions reclaimed %llu blocks, moved %llu records, %llu wear moves, "
           "%llu packs compressed, %llu torn block ends found\n",
           (unsigned long long)totals.compactions, (unsigned long long)totals.blocks_reclaimed,
           (unsigned long long)totals.records_moved, (unsigned long long)totals.wear_moves,
           (unsigned long long)totals.packs_written, (unsigned long long)totals.torn_tails);
    printf("bit flips: %llu, detected %llu, in dead or unused bytes %llu\n",
           (unsigned long long)flips_done, (unsigned long long)flips_detected,
           (unsigned long long)flips_harmless);
    printf("deletions resurrected: %llu, other failures: %llu\n", (unsigned long long)resurrected,
           (unsigned long long)other_failures);
    printf("cut points: %llu, acknowledged records lost: %llu, corrupt records returned: %llu\n",
           (unsigned long long)cut_points, (unsigned long long)lost,
           (unsigned long long)corrupt_returned);
    return (lost != 0 || corrupt_returned != 0 || resurrected != 0 || other_failures != 0) ? 1 : 0;
}
