/* Unit tests of subject tables that grow from a shared pool of size classes
 * (ne_store_subject_pool, src/store/ne_store_subjects.c): a store starts
 * with no table, moves into larger ones as its subjects grow, keeps every
 * count and query the same across a move, gives tables back, recovers into
 * the class its subjects need, and keeps working when no larger table is
 * free. Most tests run on several logs of one device on the simulated
 * flash (as JetStream's file streams); the growth test also on the memory
 * store. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "sim/ne_sim_flash.h"
#include "store/ne_store.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_mem.h"

#define BLOCKS 32
#define ERASE_BYTES 8192
#define PROGRAM_BYTES 16
#define LOGS 4

/* Three classes: 16 entries (14 usable) with 512 B of text, 64 (56) with
 * 2 KiB, 256 (224) with 8 KiB. */
#define E0 16u
#define E1 64u
#define E2 256u
#define T0 512u
#define T1 2048u
#define T2 8192u

static union {
    uint64_t align;
    uint8_t bytes[NE_STORE_SUBJECT_TABLE_BYTES(E0, T0) * 4];
} class0;
static union {
    uint64_t align;
    uint8_t bytes[NE_STORE_SUBJECT_TABLE_BYTES(E1, T1) * 2];
} class1;
static union {
    uint64_t align;
    uint8_t bytes[NE_STORE_SUBJECT_TABLE_BYTES(E2, T2) * 2];
} class2;

static ne_store_subject_pool pool;
static ne_store logs[LOGS];
static bool attached[LOGS];
static ne_store_dev dev;
static ne_sim_flash sim;
static uint8_t image[BLOCKS * ERASE_BYTES];
static uint32_t erase_counts[BLOCKS];
static uint8_t programmed[NE_SIM_FLASH_PROGRAMMED_BYTES(BLOCKS, ERASE_BYTES, PROGRAM_BYTES)];
static ne_store_mem mem;
static union {
    uint64_t align;
    uint8_t bytes[256 * 1024];
} arena;
static uint8_t buf[4096];

static const ne_flash_geometry geometry = {
    .program_bytes = PROGRAM_BYTES, .erase_bytes = ERASE_BYTES, .block_count = BLOCKS};

/* The pool with n0, n1, n2 tables of the three classes. */
static void pool_with(uint32_t n0, uint32_t n1, uint32_t n2)
{
    ne_store_subject_pool_init(&pool);
    assert_int_equal(ne_store_subject_pool_add(&pool, "class 0", E0, T0, class0.bytes, n0), NE_OK);
    assert_int_equal(ne_store_subject_pool_add(&pool, "class 1", E1, T1, class1.bytes, n1), NE_OK);
    assert_int_equal(ne_store_subject_pool_add(&pool, "class 2", E2, T2, class2.bytes, n2), NE_OK);
}

/* Log i ("L0".."L3") attached with tables from the pool: created on a new
 * device, found again after a reopen. */
static int attach(uint32_t i)
{
    char name[4] = {'L', (char)('0' + i), 0, 0};
    ne_store_entry e;
    uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
    uint32_t id = 0;
    int rc =
        ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, name, 2, &e, entry_buf, sizeof(entry_buf));
    if (rc == NE_ERR_NOT_FOUND) {
        rc = ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, name, 2, NULL, 0, &id);
    } else {
        id = e.id;
    }
    if (rc != NE_OK) {
        return rc;
    }
    ne_store_config cfg = {.subject_pool = &pool};
    rc = ne_store_attach(&logs[i], &dev, id, &cfg);
    attached[i] = rc == NE_OK;
    return rc;
}

static void detach_all(void)
{
    for (uint32_t i = 0; i < LOGS; i++) {
        if (attached[i]) {
            assert_int_equal(ne_store_detach(&logs[i]), NE_OK);
            attached[i] = false;
        }
    }
}

/* Syncs, detaches every log and opens the device again (recovery). */
static void restart(void)
{
    for (uint32_t i = 0; i < LOGS; i++) {
        if (attached[i]) {
            assert_int_equal(ne_store_sync(&logs[i]), NE_OK);
        }
    }
    detach_all();
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 0);
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
}

static int setup(void **state)
{
    (void)state;
    memset(attached, 0, sizeof(attached));
    pool_with(4, 2, 2);
    ne_sim_flash_init(&sim, geometry, image, erase_counts, programmed, 11);
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, NULL), NE_OK);
    return 0;
}

/* Every table is back once every log is detached. */
static int teardown(void **state)
{
    (void)state;
    detach_all();
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 0);
    assert_int_equal(sim.violations, 0);
    return 0;
}

static int put_on(ne_store *s, const char *subject, uint64_t *seq)
{
    ne_store_msg m = {.subject = subject,
                      .subject_len = strlen(subject),
                      .payload = (const uint8_t *)"payload",
                      .payload_len = 7,
                      .timestamp_ns = 1000};
    return ne_store_append(s, &m, seq);
}

static uint64_t put(ne_store *s, const char *subject)
{
    uint64_t seq = 0;
    assert_int_equal(put_on(s, subject, &seq), NE_OK);
    return seq;
}

static uint32_t in_class(uint32_t c)
{
    return pool.classes[c].tables.in_use;
}

/* ---- Snapshots of what the index answers ----------------------------------- */

typedef struct row {
    char subject[64];
    ne_store_simple_state st;
} row;

typedef struct rows {
    row r[512];
    uint32_t n;
} rows;

static int collect(void *ctx, const char *subject, size_t len, const ne_store_simple_state *st)
{
    rows *out = ctx;
    assert_true(out->n < 512 && len < sizeof(out->r[0].subject));
    memcpy(out->r[out->n].subject, subject, len);
    out->r[out->n].subject[len] = '\0';
    out->r[out->n].st = *st;
    out->n++;
    return NE_OK;
}

static int by_subject(const void *a, const void *b)
{
    return strcmp(((const row *)a)->subject, ((const row *)b)->subject);
}

/* What the index says of the subjects matching filter, and the counts a
 * consumer asks for, in one comparable value. */
typedef struct view {
    rows subjects;
    ne_store_simple_state filtered;
    ne_store_simple_state from_middle;
    uint64_t pending_last_per_subject;
    ne_store_state state;
} view;

static void take_view(ne_store *s, const char *filter, view *v)
{
    memset(v, 0, sizeof(*v));
    assert_int_equal(ne_store_subjects_state(s, filter, strlen(filter), collect, &v->subjects),
                     NE_OK);
    qsort(v->subjects.r, v->subjects.n, sizeof(row), by_subject);
    assert_int_equal(ne_store_filtered_state(s, 0, filter, strlen(filter), &v->filtered), NE_OK);
    ne_store_get_state(s, &v->state);
    uint64_t middle = (v->state.first_seq + v->state.last_seq) / 2;
    assert_int_equal(ne_store_filtered_state(s, middle, filter, strlen(filter), &v->from_middle),
                     NE_OK);
    assert_int_equal(
        ne_store_num_pending(s, 0, filter, strlen(filter), true, &v->pending_last_per_subject),
        NE_OK);
}

static void expect_same_subjects(const view *a, const view *b)
{
    assert_int_equal(a->subjects.n, b->subjects.n);
    for (uint32_t i = 0; i < a->subjects.n; i++) {
        assert_string_equal(a->subjects.r[i].subject, b->subjects.r[i].subject);
        assert_int_equal(a->subjects.r[i].st.msgs, b->subjects.r[i].st.msgs);
        assert_int_equal(a->subjects.r[i].st.first_seq, b->subjects.r[i].st.first_seq);
        assert_int_equal(a->subjects.r[i].st.last_seq, b->subjects.r[i].st.last_seq);
    }
    assert_memory_equal(&a->filtered, &b->filtered, sizeof(a->filtered));
    assert_memory_equal(&a->from_middle, &b->from_middle, sizeof(a->from_middle));
    assert_int_equal(a->pending_last_per_subject, b->pending_last_per_subject);
}

/* Subject k: "s.<k>" for k < 1000, two messages each here and there. */
static void subject_name(uint32_t k, char *out, size_t cap)
{
    snprintf(out, cap, "s.%u", (unsigned)k);
}

/* Fills s with subjects 0 .. count-1 (two messages each, the second after
 * all first ones), checking at every move into a larger class that the
 * older subjects read exactly as before it. Returns the moves seen. */
static uint32_t fill_checking_moves(ne_store *s, uint32_t count)
{
    static view before;
    static view after;
    char subject[32];
    uint32_t moves = 0;
    for (uint32_t k = 0; k < count; k++) {
        subject_name(k, subject, sizeof(subject));
        uint32_t cls = s->subject_class;
        bool full =
            s->subject_class != NE_STORE_NO_CLASS && s->state.num_subjects == s->subject_max;
        if (full) {
            take_view(s, "s.*", &before);
        }
        put(s, subject);
        put(s, k % 2 == 0 ? subject : "other");
        if (full) {
            assert_int_not_equal(s->subject_class, cls);
            moves++;
            /* The new subject and the two new messages aside, nothing changed. */
            take_view(s, "s.*", &after);
            assert_int_equal(after.subjects.n, before.subjects.n + 1);
            for (uint32_t i = 0, j = 0; i < after.subjects.n; i++) {
                if (strcmp(after.subjects.r[i].subject, subject) == 0) {
                    continue;
                }
                assert_string_equal(after.subjects.r[i].subject, before.subjects.r[j].subject);
                assert_memory_equal(&after.subjects.r[i].st, &before.subjects.r[j].st,
                                    sizeof(ne_store_simple_state));
                j++;
            }
        }
    }
    return moves;
}

/* ---- Growth ------------------------------------------------------------------ */

static void test_store_starts_without_a_table_and_takes_the_smallest(void **state)
{
    (void)state;
    assert_int_equal(attach(0), NE_OK);
    assert_int_equal(logs[0].subject_class, NE_STORE_NO_CLASS);
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 0);
    ne_store_simple_state st;
    assert_int_equal(ne_store_filtered_state(&logs[0], 0, "s.*", 3, &st), NE_OK);
    assert_int_equal(st.msgs, 0);
    put(&logs[0], "s.1");
    assert_int_equal(logs[0].subject_class, 0);
    assert_int_equal(in_class(0), 1);
    assert_int_equal(logs[0].state.num_subjects, 1);
}

static void test_growth_moves_through_classes_and_keeps_every_answer(void **state)
{
    (void)state;
    assert_int_equal(attach(0), NE_OK);
    /* 14 fit class 0, 56 class 1, the rest class 2. */
    assert_int_equal(fill_checking_moves(&logs[0], 150), 2);
    assert_int_equal(logs[0].subject_class, 2);
    assert_int_equal(in_class(0), 0);
    assert_int_equal(in_class(1), 0);
    assert_int_equal(in_class(2), 1);
    assert_int_equal(pool.moves, 2);
    ne_store_state st;
    ne_store_get_state(&logs[0], &st);
    assert_int_equal(st.num_subjects, 151);
    assert_int_equal(st.msgs, 300);
    assert_int_equal(st.untracked_msgs, 0);
    uint64_t msgs = 0;
    uint64_t last = 0;
    assert_int_equal(ne_store_subject_state(&logs[0], "s.7", 3, &msgs, &last), NE_OK);
    assert_int_equal(msgs, 1);
    assert_int_equal(last, 15);
    assert_int_equal(ne_store_subject_state(&logs[0], "s.8", 3, &msgs, &last), NE_OK);
    assert_int_equal(msgs, 2);
    assert_int_equal(last, 18);
    assert_int_equal(ne_store_subject_state(&logs[0], "other", 5, &msgs, &last), NE_OK);
    assert_int_equal(msgs, 75);
}

static void test_growth_on_the_memory_store(void **state)
{
    (void)state;
    ne_store s;
    ne_store_config cfg = {.subject_pool = &pool};
    assert_int_equal(ne_store_mem_open(&s, &mem, &cfg, arena.bytes, sizeof(arena.bytes), 2048),
                     NE_OK);
    assert_int_equal(fill_checking_moves(&s, 100), 2);
    assert_int_equal(s.subject_class, 2);
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 1);
    ne_store_mem_close(&s);
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 0);
}

static void test_text_growth_moves_before_the_entries_are_full(void **state)
{
    (void)state;
    assert_int_equal(attach(0), NE_OK);
    /* Subjects of 60 bytes: 68 B of text each, 7 fill class 0's 512 B. */
    char subject[64];
    for (uint32_t k = 0; k < 10; k++) {
        snprintf(subject, sizeof(subject), "long.subject.%047u", (unsigned)k);
        assert_int_equal(strlen(subject), 60);
        put(&logs[0], subject);
    }
    assert_int_equal(logs[0].subject_class, 1);
    assert_int_equal(logs[0].state.num_subjects, 10);
    assert_int_equal(logs[0].state.untracked_msgs, 0);
    view v;
    take_view(&logs[0], "long.>", &v);
    assert_int_equal(v.subjects.n, 10);
}

/* ---- After a move ------------------------------------------------------------ */

static void test_deletes_and_compaction_after_a_move(void **state)
{
    (void)state;
    assert_int_equal(attach(0), NE_OK);
    (void)fill_checking_moves(&logs[0], 40);
    assert_int_equal(logs[0].subject_class, 1);
    /* s.4 is at 9 and 10; s.5 at 11, "other" at 12. */
    assert_int_equal(ne_store_delete(&logs[0], 9), NE_OK);
    assert_int_equal(ne_store_delete(&logs[0], 11), NE_OK);
    uint64_t msgs = 0;
    uint64_t last = 0;
    assert_int_equal(ne_store_subject_state(&logs[0], "s.4", 3, &msgs, &last), NE_OK);
    assert_int_equal(msgs, 1);
    assert_int_equal(last, 10);
    assert_int_equal(ne_store_subject_state(&logs[0], "s.5", 3, &msgs, &last), NE_ERR_NOT_FOUND);
    /* Every message of the first half of the subjects goes, then space is
     * reclaimed: the index reads the same before and after. */
    for (uint64_t seq = 1; seq <= 40; seq++) {
        int rc = ne_store_delete(&logs[0], seq);
        assert_true(rc == NE_OK || rc == NE_ERR_NOT_FOUND);
    }
    static view before;
    static view after;
    take_view(&logs[0], "s.>", &before);
    uint32_t reclaimed = 0;
    assert_int_equal(ne_store_sync(&logs[0]), NE_OK);
    assert_int_equal(ne_store_compact(&logs[0], &reclaimed), NE_OK);
    take_view(&logs[0], "s.>", &after);
    expect_same_subjects(&before, &after);
    assert_int_equal(before.subjects.n, 20);
    /* Deleting the rest gives the table back; the next message takes a
     * table of class 0 again. */
    for (uint64_t seq = 41; seq <= 80; seq++) {
        int rc = ne_store_delete(&logs[0], seq);
        assert_true(rc == NE_OK || rc == NE_ERR_NOT_FOUND);
    }
    assert_int_equal(logs[0].state.msgs, 0);
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 0);
    put(&logs[0], "s.new");
    assert_int_equal(logs[0].subject_class, 0);
}

static void test_purge_and_truncate_after_a_move(void **state)
{
    (void)state;
    assert_int_equal(attach(0), NE_OK);
    (void)fill_checking_moves(&logs[0], 30);
    assert_int_equal(logs[0].subject_class, 1);
    /* Truncating to the first 20 subjects' first messages (seqs 1..20 hold
     * s.0..s.9 and their seconds). */
    assert_int_equal(ne_store_truncate(&logs[0], 20), NE_OK);
    view v;
    take_view(&logs[0], "s.*", &v);
    assert_int_equal(v.subjects.n, 10);
    assert_int_equal(v.filtered.msgs, 15);
    assert_int_equal(v.filtered.last_seq, 19);
    ne_store_purge_req req = {.subject = "s.*", .subject_len = 3};
    uint64_t purged = 0;
    assert_int_equal(ne_store_purge(&logs[0], &req, &purged), NE_OK);
    assert_int_equal(purged, 15);
    assert_int_equal(logs[0].state.num_subjects, 1); /* "other" */
    assert_int_equal(ne_store_purge(&logs[0], NULL, &purged), NE_OK);
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 0);
    assert_int_equal(logs[0].subject_class, NE_STORE_NO_CLASS);
}

static void test_limits_that_remove_every_message_give_the_table_back(void **state)
{
    (void)state;
    assert_int_equal(attach(0), NE_OK);
    put(&logs[0], "a");
    put(&logs[0], "b");
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 1);
    ne_store_limits l = {.max_bytes = 1};
    assert_int_equal(ne_store_set_limits(&logs[0], &l), NE_OK);
    assert_int_equal(logs[0].state.msgs, 0);
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 0);
    l.max_bytes = 0;
    l.max_age_ns = 10;
    assert_int_equal(ne_store_set_limits(&logs[0], &l), NE_OK);
    put(&logs[0], "c");
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 1);
    assert_int_equal(ne_store_expire(&logs[0], 5000, NULL), NE_OK);
    assert_int_equal(logs[0].state.msgs, 0);
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 0);
}

/* ---- Recovery ------------------------------------------------------------------ */

static void test_recovery_rebuilds_into_the_class_its_subjects_need(void **state)
{
    (void)state;
    assert_int_equal(attach(0), NE_OK);
    assert_int_equal(attach(1), NE_OK);
    (void)fill_checking_moves(&logs[0], 100);
    put(&logs[1], "s.1");
    put(&logs[1], "s.2");
    assert_int_equal(ne_store_delete(&logs[0], 3), NE_OK);
    static view before;
    static view after;
    take_view(&logs[0], "s.*", &before);
    restart();
    assert_int_equal(attach(0), NE_OK);
    assert_int_equal(attach(1), NE_OK);
    /* 101 subjects need class 2 (class 1 holds 56), two fit class 0. */
    assert_int_equal(logs[0].subject_class, 2);
    assert_int_equal(logs[1].subject_class, 0);
    take_view(&logs[0], "s.*", &after);
    expect_same_subjects(&before, &after);
    assert_int_equal(after.state.msgs, before.state.msgs);
    assert_int_equal(after.state.num_subjects, before.state.num_subjects);
    assert_int_equal(after.state.untracked_msgs, 0);
    assert_int_equal(in_class(1), 0);
}

static void test_detach_gives_the_table_back(void **state)
{
    (void)state;
    assert_int_equal(attach(0), NE_OK);
    (void)fill_checking_moves(&logs[0], 20);
    assert_int_equal(in_class(1), 1);
    assert_int_equal(ne_store_detach(&logs[0]), NE_OK);
    attached[0] = false;
    assert_int_equal(ne_store_subject_pool_in_use(&pool), 0);
}

/* ---- Exhaustion ------------------------------------------------------------------ */

static void test_when_no_larger_table_is_free_the_store_keeps_working(void **state)
{
    (void)state;
    pool_with(1, 1, 1);
    for (uint32_t i = 0; i < LOGS; i++) {
        assert_int_equal(attach(i), NE_OK);
    }
    ne_store *a = &logs[0];
    ne_store *b = &logs[1];
    ne_store *c = &logs[2];
    ne_store *d = &logs[3];
    /* A climbs to the largest table and fills it (224 subjects). */
    char subject[32];
    uint32_t k = 0;
    for (; k < 224; k++) {
        subject_name(k, subject, sizeof(subject));
        put(a, subject);
    }
    assert_int_equal(a->subject_class, 2);
    uint64_t seq = 0;
    assert_int_equal(put_on(a, "s.new", &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(a), NE_STORE_LIMIT_SUBJECTS);
    put(a, "s.3"); /* a subject it has */
    /* B takes class 0 then the one table of class 1. */
    for (k = 0; k < 20; k++) {
        subject_name(k, subject, sizeof(subject));
        put(b, subject);
    }
    assert_int_equal(b->subject_class, 1);
    /* C has the last table of class 0 and cannot grow: its 15th subject is
     * refused, the 14 it has keep working, and its queries are right. */
    for (k = 0; k < 14; k++) {
        subject_name(k, subject, sizeof(subject));
        put(c, subject);
    }
    uint32_t refused = pool.refused;
    assert_int_equal(put_on(c, "s.14", &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(c), NE_STORE_LIMIT_SUBJECTS);
    assert_int_equal(pool.refused, refused + 1);
    assert_int_equal(c->subject_class, 0);
    put(c, "s.0");
    view v;
    take_view(c, "s.*", &v);
    assert_int_equal(v.subjects.n, 14);
    assert_int_equal(v.filtered.msgs, 15);
    /* D gets no table at all: refused, nothing stored. */
    assert_int_equal(put_on(d, "x", &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(d), NE_STORE_LIMIT_SUBJECTS);
    assert_int_equal(d->state.msgs, 0);
    /* B still grows nothing, but works on its subjects. */
    put(b, "s.1");
    /* A purged gives its table back: D takes it (the only free one). */
    assert_int_equal(ne_store_purge(a, NULL, NULL), NE_OK);
    assert_int_equal(in_class(2), 0);
    put(d, "x");
    assert_int_equal(d->subject_class, 2);
    /* Every store reads back after a restart, tables given as before where
     * they fit (D's one subject recovers into class 0, whose tables B and
     * C take back first or not: whichever attaches first). */
    restart();
    for (uint32_t i = 0; i < LOGS; i++) {
        assert_int_equal(attach(i), NE_OK);
    }
    assert_int_equal(b->state.num_subjects, 20);
    assert_int_equal(c->state.num_subjects, 14);
    assert_int_equal(a->state.msgs, 0);
    assert_int_equal(d->state.msgs, 1);
}

static void test_text_exhaustion_keeps_messages_unindexed(void **state)
{
    (void)state;
    /* One class only, 512 B of text: long subjects fill it first. */
    ne_store_subject_pool_init(&pool);
    assert_int_equal(ne_store_subject_pool_add(&pool, "class 0", E0, T0, class0.bytes, 1), NE_OK);
    assert_int_equal(attach(0), NE_OK);
    char subject[64];
    for (uint32_t k = 0; k < 10; k++) {
        snprintf(subject, sizeof(subject), "long.subject.%047u", (unsigned)k);
        put(&logs[0], subject);
    }
    ne_store_state st;
    ne_store_get_state(&logs[0], &st);
    assert_int_equal(st.msgs, 10);
    assert_int_equal(st.num_subjects, 7);
    assert_int_equal(st.untracked_msgs, 3);
    /* Unindexed messages are found by a scan and counted by reading. */
    ne_store_msg m;
    snprintf(subject, sizeof(subject), "long.subject.%047u", 9u);
    assert_int_equal(ne_store_load_last(&logs[0], subject, strlen(subject), &m, buf, sizeof(buf)),
                     NE_OK);
    assert_int_equal(m.seq, 10);
    ne_store_simple_state fs;
    assert_int_equal(ne_store_filtered_state(&logs[0], 0, "long.>", 6, &fs), NE_OK);
    assert_int_equal(fs.msgs, 10);
}

static void test_pool_refuses_classes_out_of_order(void **state)
{
    (void)state;
    ne_store_subject_pool p;
    ne_store_subject_pool_init(&p);
    assert_int_equal(ne_store_subject_pool_add(&p, "c", 12, T0, class0.bytes, 1), NE_ERR_INVALID);
    assert_int_equal(ne_store_subject_pool_add(&p, "c", E0, 100, class0.bytes, 1), NE_ERR_INVALID);
    assert_int_equal(ne_store_subject_pool_add(&p, "c", E1, T1, class1.bytes, 1), NE_OK);
    assert_int_equal(ne_store_subject_pool_add(&p, "c", E0, T0, class0.bytes, 1), NE_ERR_INVALID);
    assert_int_equal(ne_store_subject_pool_add(&p, "c", E2, T0, class2.bytes, 1), NE_ERR_INVALID);
    assert_int_equal(ne_store_subject_pool_add(&p, "c", E2, T2, class2.bytes, 0), NE_OK);
    assert_int_equal(p.class_count, 1);
    /* A table from a pool and the caller's at once is a bad configuration. */
    ne_store_subject own[8];
    ne_store_config cfg = {.subject_pool = &pool, .subjects = own, .subject_capacity = 8};
    ne_store s;
    assert_int_equal(ne_store_mem_open(&s, &mem, &cfg, arena.bytes, sizeof(arena.bytes), 64),
                     NE_ERR_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_store_starts_without_a_table_and_takes_the_smallest,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth_moves_through_classes_and_keeps_every_answer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_growth_on_the_memory_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_growth_moves_before_the_entries_are_full, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deletes_and_compaction_after_a_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_purge_and_truncate_after_a_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_that_remove_every_message_give_the_table_back,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_rebuilds_into_the_class_its_subjects_need,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_detach_gives_the_table_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_when_no_larger_table_is_free_the_store_keeps_working,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_exhaustion_keeps_messages_unindexed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pool_refuses_classes_out_of_order, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
