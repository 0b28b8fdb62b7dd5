/* Unit tests of the store interface (src/store/ne_store.h). Every test runs
 * twice: on the memory store and on the flash store over the simulated
 * flash, which must behave the same. After each test the flash store is
 * reopened and must recover exactly the state the test left (after a sync),
 * and the simulated device must never have been programmed twice in a unit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "sim/ne_sim_flash.h"
#include "store/ne_store.h"
#include "store/ne_store_flash.h"
#include "store/ne_store_mem.h"

#define BLOCKS 16
#define ERASE_BYTES 4096
#define PROGRAM_BYTES 16
#define SUBJECTS 16

enum kind { KIND_MEM, KIND_FLASH };

static ne_store store;
static ne_store_mem mem;
static union {
    uint64_t align;
    uint8_t bytes[48 * 1024];
} arena;
static ne_store_flash fs;
static ne_sim_flash sim;
static uint8_t image[BLOCKS * ERASE_BYTES];
static uint32_t erase_counts[BLOCKS];
static uint8_t programmed[NE_SIM_FLASH_PROGRAMMED_BYTES(BLOCKS, ERASE_BYTES, PROGRAM_BYTES)];
static ne_store_subject subjects[SUBJECTS];
static ne_snappy_table table;
static enum kind current;
static uint8_t buf[8192];

static const ne_flash_geometry geometry = {
    .program_bytes = PROGRAM_BYTES, .erase_bytes = ERASE_BYTES, .block_count = BLOCKS};

static int open_store(const ne_store_limits *limits)
{
    ne_store_config cfg = {.subjects = subjects, .subject_capacity = SUBJECTS};
    if (limits != NULL) {
        cfg.limits = *limits;
    }
    if (current == KIND_MEM) {
        return ne_store_mem_open(&store, &mem, &cfg, arena.bytes, sizeof(arena.bytes), 1024);
    }
    return ne_store_flash_open(&store, &fs, &cfg, &sim.flash, &table);
}

static int setup(void **state)
{
    current = (enum kind)(uintptr_t)*state;
    ne_sim_flash_init(&sim, geometry, image, erase_counts, programmed, 42);
    assert_int_equal(open_store(NULL), NE_OK);
    return 0;
}

/* The flash store must recover what the test left. */
static int teardown(void **state)
{
    (void)state;
    if (current != KIND_FLASH || fs.failed != NE_OK) {
        return 0;
    }
    assert_int_equal(ne_store_sync(&store), NE_OK);
    ne_store_state before;
    ne_store_get_state(&store, &before);
    ne_store_limits limits = store.limits;
    assert_int_equal(open_store(&limits), NE_OK);
    ne_store_state after;
    ne_store_get_state(&store, &after);
    assert_int_equal(after.msgs, before.msgs);
    assert_int_equal(after.bytes, before.bytes);
    assert_int_equal(after.first_seq, before.first_seq);
    assert_int_equal(after.last_seq, before.last_seq);
    assert_int_equal(after.num_subjects, before.num_subjects);
    assert_int_equal(after.num_deleted, before.num_deleted);
    assert_int_equal(after.corrupt_records, 0);
    assert_int_equal(sim.violations, 0);
    return 0;
}

static int put_full(const char *subject, const char *headers, const char *payload, uint64_t ts,
                    uint64_t *seq)
{
    ne_store_msg m = {
        .subject = subject,
        .subject_len = strlen(subject),
        .headers = (const uint8_t *)headers,
        .headers_len = headers != NULL ? strlen(headers) : 0,
        .payload = (const uint8_t *)payload,
        .payload_len = payload != NULL ? strlen(payload) : 0,
        .timestamp_ns = ts,
    };
    return ne_store_append(&store, &m, seq);
}

static uint64_t put(const char *subject, const char *payload)
{
    uint64_t seq = 0;
    assert_int_equal(put_full(subject, NULL, payload, 1000, &seq), NE_OK);
    return seq;
}

static void expect_msg(uint64_t seq, const char *subject, const char *payload)
{
    ne_store_msg m;
    assert_int_equal(ne_store_load(&store, seq, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, seq);
    assert_int_equal(m.subject_len, strlen(subject));
    assert_memory_equal(m.subject, subject, m.subject_len);
    assert_int_equal(m.payload_len, strlen(payload));
    assert_memory_equal(m.payload, payload, m.payload_len);
}

static void expect_gone(uint64_t seq)
{
    ne_store_msg m;
    assert_int_equal(ne_store_load(&store, seq, &m, buf, sizeof(buf)), NE_ERR_NOT_FOUND);
}

static ne_store_state get_state(void)
{
    ne_store_state st;
    ne_store_get_state(&store, &st);
    return st;
}

/* ---- Append and load ----------------------------------------------------- */

static void test_append_assigns_increasing_sequences(void **state)
{
    (void)state;
    assert_int_equal(put("a", "1"), 1);
    assert_int_equal(put("b", "2"), 2);
    assert_int_equal(put("a", "3"), 3);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 3);
    assert_int_equal(st.first_seq, 1);
    assert_int_equal(st.last_seq, 3);
    assert_int_equal(st.num_subjects, 2);
    assert_int_equal(st.bytes, 3 * (1 + 1 + 16));
    assert_int_equal(st.num_deleted, 0);
}

static void test_load_returns_the_message_byte_exact(void **state)
{
    (void)state;
    uint64_t seq = 0;
    const char *hdr = "NATS/1.0\r\nKV-Operation: PUT\r\n\r\n";
    assert_int_equal(put_full("$KV.b.key", hdr, "value", 123456789, &seq), NE_OK);
    ne_store_msg m;
    assert_int_equal(ne_store_load(&store, seq, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.timestamp_ns, 123456789);
    assert_int_equal(m.headers_len, strlen(hdr));
    assert_memory_equal(m.headers, hdr, m.headers_len);
    assert_memory_equal(m.payload, "value", 5);
    assert_memory_equal(m.subject, "$KV.b.key", 9);
}

static void test_empty_payload_and_no_headers_round_trip(void **state)
{
    (void)state;
    uint64_t seq = put("empty", NULL);
    ne_store_msg m;
    assert_int_equal(ne_store_load(&store, seq, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.payload_len, 0);
    assert_int_equal(m.headers_len, 0);
    assert_null(m.headers);
}

static void test_load_of_absent_sequences_is_not_found(void **state)
{
    (void)state;
    expect_gone(0);
    expect_gone(1);
    put("a", "x");
    expect_gone(0);
    expect_gone(2);
    expect_gone(UINT64_MAX);
}

static void test_load_into_small_buffer_reports_the_sizes(void **state)
{
    (void)state;
    uint64_t seq = put("subject", "0123456789");
    ne_store_msg m;
    assert_int_equal(ne_store_load(&store, seq, &m, buf, 5), NE_ERR_TOO_BIG);
    assert_int_equal(m.subject_len, 7);
    assert_int_equal(m.payload_len, 10);
    assert_null(m.payload);
    assert_int_equal(ne_store_load(&store, seq, &m, buf, 17), NE_OK);
}

static void test_append_refuses_invalid_messages(void **state)
{
    (void)state;
    uint64_t seq;
    assert_int_equal(put_full("", NULL, "x", 0, &seq), NE_ERR_INVALID);
    assert_int_equal(put_full("a.*", NULL, "x", 0, &seq), NE_ERR_INVALID);
    assert_int_equal(put_full("a.>", NULL, "x", 0, &seq), NE_ERR_INVALID);
    assert_int_equal(put_full("a..b", NULL, "x", 0, &seq), NE_ERR_INVALID);
    char long_subject[NE_STORE_MAX_SUBJECT_BYTES + 2];
    memset(long_subject, 'a', sizeof(long_subject) - 1);
    long_subject[sizeof(long_subject) - 1] = '\0';
    assert_int_equal(put_full(long_subject, NULL, "x", 0, &seq), NE_ERR_INVALID);
    ne_store_msg m = {.subject = "a", .subject_len = 1, .payload = NULL, .payload_len = 3};
    assert_int_equal(ne_store_append(&store, &m, &seq), NE_ERR_INVALID);
    assert_int_equal(get_state().msgs, 0);
}

static void test_message_larger_than_the_backend_is_too_big(void **state)
{
    (void)state;
    static uint8_t big[64 * 1024];
    memset(big, 'x', sizeof(big));
    ne_store_msg m = {
        .subject = "big", .subject_len = 3, .payload = big, .payload_len = sizeof(big)};
    uint64_t seq;
    assert_int_equal(ne_store_append(&store, &m, &seq), NE_ERR_TOO_BIG);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_MSG_SIZE);
}

/* ---- Subjects ------------------------------------------------------------ */

static void test_load_last_finds_the_newest_of_a_subject(void **state)
{
    (void)state;
    put("k.a", "1");
    put("k.b", "2");
    put("k.a", "3");
    put("k.b", "4");
    ne_store_msg m;
    assert_int_equal(ne_store_load_last(&store, "k.a", 3, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, 3);
    assert_int_equal(ne_store_load_last(&store, "k.c", 3, &m, buf, sizeof(buf)), NE_ERR_NOT_FOUND);
    assert_int_equal(ne_store_load_last(&store, "k.*", 3, &m, buf, sizeof(buf)), NE_ERR_INVALID);
}

static void test_load_last_after_its_newest_is_deleted(void **state)
{
    (void)state;
    put("k.a", "1");
    put("k.a", "2");
    put("k.b", "x");
    put("k.a", "3");
    assert_int_equal(ne_store_delete(&store, 4), NE_OK);
    ne_store_msg m;
    assert_int_equal(ne_store_load_last(&store, "k.a", 3, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, 2);
    uint64_t msgs, last;
    assert_int_equal(ne_store_subject_state(&store, "k.a", 3, &msgs, &last), NE_OK);
    assert_int_equal(msgs, 2);
    assert_int_equal(last, 2);
    assert_int_equal(ne_store_subject_state(&store, "zz", 2, &msgs, &last), NE_ERR_NOT_FOUND);
    assert_int_equal(msgs, 0);
}

static void test_load_next_follows_a_filter(void **state)
{
    (void)state;
    put("a.x", "1");
    put("b.x", "2");
    put("a.y", "3");
    put("a.y.z", "4");
    ne_store_msg m;
    assert_int_equal(ne_store_load_next(&store, 1, "a.*", 3, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, 1);
    assert_int_equal(ne_store_load_next(&store, 2, "a.*", 3, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, 3);
    assert_int_equal(ne_store_load_next(&store, 4, "a.*", 3, &m, buf, sizeof(buf)),
                     NE_ERR_NOT_FOUND);
    assert_int_equal(ne_store_load_next(&store, 2, "a.>", 3, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, 3);
    assert_int_equal(ne_store_load_next(&store, 4, ">", 1, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, 4);
    assert_int_equal(ne_store_load_next(&store, 0, NULL, 0, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, 1);
    assert_int_equal(ne_store_load_next(&store, 1, "b.x", 3, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.seq, 2);
    assert_int_equal(ne_store_load_next(&store, 1, "a..", 3, &m, buf, sizeof(buf)), NE_ERR_INVALID);
}

static void test_full_subject_table_refuses_new_subjects(void **state)
{
    (void)state;
    uint32_t usable = SUBJECTS - SUBJECTS / 8;
    char subject[16];
    for (uint32_t i = 0; i < usable; i++) {
        snprintf(subject, sizeof(subject), "s.%u", i);
        put(subject, "x");
    }
    uint64_t seq;
    assert_int_equal(put_full("s.new", NULL, "x", 0, &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_SUBJECTS);
    /* Subjects already present keep working. */
    put("s.0", "y");
    /* A subject whose last message leaves frees its entry. */
    assert_int_equal(ne_store_delete(&store, 2), NE_OK);
    put("s.new", "x");
    assert_int_equal(get_state().num_subjects, usable);
}

/* ---- Delete and purge ---------------------------------------------------- */

static void test_delete_interior_leaves_a_gap(void **state)
{
    (void)state;
    put("a", "1");
    put("a", "2");
    put("a", "3");
    assert_int_equal(ne_store_delete(&store, 2), NE_OK);
    expect_gone(2);
    expect_msg(1, "a", "1");
    expect_msg(3, "a", "3");
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 2);
    assert_int_equal(st.num_deleted, 1);
    assert_int_equal(ne_store_delete(&store, 2), NE_ERR_NOT_FOUND);
    assert_int_equal(ne_store_delete(&store, 9), NE_ERR_NOT_FOUND);
}

static void test_delete_first_moves_the_front(void **state)
{
    (void)state;
    put_full("a", NULL, "1", 10, NULL);
    put_full("a", NULL, "2", 20, NULL);
    put_full("a", NULL, "3", 30, NULL);
    assert_int_equal(ne_store_delete(&store, 2), NE_OK);
    assert_int_equal(ne_store_delete(&store, 1), NE_OK);
    ne_store_state st = get_state();
    assert_int_equal(st.first_seq, 3);
    assert_int_equal(st.first_ts_ns, 30);
    assert_int_equal(st.last_ts_ns, 30);
    assert_int_equal(st.num_deleted, 0);
    assert_int_equal(ne_store_delete(&store, 3), NE_OK);
    st = get_state();
    assert_int_equal(st.msgs, 0);
    assert_int_equal(st.first_seq, 4);
    assert_int_equal(st.last_seq, 3);
    assert_int_equal(put("a", "4"), 4);
}

static void test_purge_everything_keeps_the_sequence(void **state)
{
    (void)state;
    for (int i = 0; i < 10; i++) {
        put(i % 2 ? "a" : "b", "x");
    }
    uint64_t purged = 0;
    assert_int_equal(ne_store_purge(&store, NULL, &purged), NE_OK);
    assert_int_equal(purged, 10);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(st.first_seq, 11);
    assert_int_equal(st.last_seq, 10);
    assert_int_equal(st.num_subjects, 0);
    expect_gone(5);
    assert_int_equal(put("a", "y"), 11);
}

static void test_purge_up_to_a_sequence(void **state)
{
    (void)state;
    for (int i = 0; i < 10; i++) {
        put("a", "x");
    }
    ne_store_purge_req req = {.up_to_seq = 6};
    uint64_t purged = 0;
    assert_int_equal(ne_store_purge(&store, &req, &purged), NE_OK);
    assert_int_equal(purged, 5);
    assert_int_equal(get_state().first_seq, 6);
    expect_gone(5);
    expect_msg(6, "a", "x");
}

static void test_purge_keeping_the_newest(void **state)
{
    (void)state;
    for (int i = 0; i < 10; i++) {
        put("a", "x");
    }
    ne_store_purge_req req = {.keep = 3};
    uint64_t purged = 0;
    assert_int_equal(ne_store_purge(&store, &req, &purged), NE_OK);
    assert_int_equal(purged, 7);
    assert_int_equal(get_state().msgs, 3);
    assert_int_equal(get_state().first_seq, 8);
    req.keep = 5;
    assert_int_equal(ne_store_purge(&store, &req, &purged), NE_OK);
    assert_int_equal(purged, 0);
}

static void test_purge_of_one_subject(void **state)
{
    (void)state;
    for (int i = 0; i < 9; i++) {
        put(i % 3 == 0 ? "k.a" : "k.b", "x");
    }
    ne_store_purge_req req = {.subject = "k.a", .subject_len = 3};
    uint64_t purged = 0;
    assert_int_equal(ne_store_purge(&store, &req, &purged), NE_OK);
    assert_int_equal(purged, 3);
    uint64_t msgs, last;
    assert_int_equal(ne_store_subject_state(&store, "k.a", 3, &msgs, &last), NE_ERR_NOT_FOUND);
    assert_int_equal(get_state().msgs, 6);
    assert_int_equal(get_state().first_seq, 2);
    expect_gone(1);
    expect_gone(4);
}

static void test_purge_of_a_subject_keeping_the_newest(void **state)
{
    (void)state;
    for (int i = 0; i < 8; i++) {
        put(i % 2 ? "k.a" : "k.b", "x");
    }
    ne_store_purge_req req = {.subject = "k.a", .subject_len = 3, .keep = 1};
    uint64_t purged = 0;
    assert_int_equal(ne_store_purge(&store, &req, &purged), NE_OK);
    assert_int_equal(purged, 3);
    uint64_t msgs, last;
    assert_int_equal(ne_store_subject_state(&store, "k.a", 3, &msgs, &last), NE_OK);
    assert_int_equal(msgs, 1);
    assert_int_equal(last, 8);
}

static void test_purge_with_wildcard_and_sequence(void **state)
{
    (void)state;
    put("k.a", "x");
    put("k.b", "x");
    put("j.a", "x");
    put("k.a", "x");
    ne_store_purge_req req = {.subject = "k.*", .subject_len = 3, .up_to_seq = 4};
    uint64_t purged = 0;
    assert_int_equal(ne_store_purge(&store, &req, &purged), NE_OK);
    assert_int_equal(purged, 2);
    assert_int_equal(get_state().first_seq, 3);
    req.keep = 1;
    assert_int_equal(ne_store_purge(&store, &req, &purged), NE_ERR_INVALID);
    req = (ne_store_purge_req){.subject = "k.", .subject_len = 2};
    assert_int_equal(ne_store_purge(&store, &req, &purged), NE_ERR_INVALID);
    req = (ne_store_purge_req){.subject = "k.>", .subject_len = 3, .keep = 0};
    assert_int_equal(ne_store_purge(&store, &req, NULL), NE_OK);
    assert_int_equal(get_state().msgs, 1);
}

/* ---- Limits -------------------------------------------------------------- */

static void test_max_msgs_discard_old_drops_the_oldest(void **state)
{
    (void)state;
    ne_store_limits l = {.max_msgs = 3};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    for (int i = 0; i < 5; i++) {
        put("a", "x");
    }
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 3);
    assert_int_equal(st.first_seq, 3);
}

static void test_max_msgs_discard_new_refuses(void **state)
{
    (void)state;
    ne_store_limits l = {.max_msgs = 2, .discard = NE_STORE_DISCARD_NEW};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    put("a", "x");
    put("a", "x");
    uint64_t seq;
    assert_int_equal(put_full("a", NULL, "x", 0, &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_MSGS);
    assert_int_equal(get_state().last_seq, 2);
}

static void test_max_bytes_discard_old_and_new(void **state)
{
    (void)state;
    ne_store_limits l = {.max_bytes = 3 * 18};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    for (int i = 0; i < 5; i++) {
        put("a", "x");
    }
    assert_int_equal(get_state().msgs, 3);
    assert_int_equal(get_state().bytes, 54);
    l.discard = NE_STORE_DISCARD_NEW;
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    uint64_t seq;
    assert_int_equal(put_full("a", NULL, "x", 0, &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_BYTES);
    /* A message larger than max_bytes is refused even with discard old. */
    l.discard = NE_STORE_DISCARD_OLD;
    l.max_bytes = 10;
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    assert_int_equal(get_state().msgs, 0);
    assert_int_equal(put_full("a", NULL, "x", 0, &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_BYTES);
}

static void test_max_msg_size_refuses_large_messages(void **state)
{
    (void)state;
    ne_store_limits l = {.max_msg_size_bytes = 8};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    uint64_t seq;
    assert_int_equal(put_full("a", NULL, "1234567", 0, &seq), NE_OK);
    assert_int_equal(put_full("a", NULL, "12345678", 0, &seq), NE_ERR_TOO_BIG);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_MSG_SIZE);
}

static void test_max_msgs_per_subject_keeps_history(void **state)
{
    (void)state;
    ne_store_limits l = {.max_msgs_per_subject = 2};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    put("k.a", "1");
    put("k.b", "2");
    put("k.a", "3");
    put("k.a", "4");
    put("k.a", "5");
    uint64_t msgs, last;
    assert_int_equal(ne_store_subject_state(&store, "k.a", 3, &msgs, &last), NE_OK);
    assert_int_equal(msgs, 2);
    assert_int_equal(last, 5);
    expect_gone(1);
    expect_gone(3);
    expect_msg(2, "k.b", "2");
    expect_msg(4, "k.a", "4");
    assert_int_equal(get_state().msgs, 3);
}

static void test_discard_new_per_subject_refuses(void **state)
{
    (void)state;
    ne_store_limits l = {.max_msgs_per_subject = 1,
                         .discard = NE_STORE_DISCARD_NEW,
                         .discard_new_per_subject = true};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    put("k.a", "1");
    uint64_t seq;
    assert_int_equal(put_full("k.a", NULL, "2", 0, &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_MSGS_PER_SUBJECT);
    put("k.b", "2");
}

/* KV: max_msgs with discard new, one value per key: updating a key at the
 * store's limit replaces it instead of being refused (nats-server). */
static void test_discard_new_lets_a_subject_at_its_limit_replace(void **state)
{
    (void)state;
    ne_store_limits l = {.max_msgs = 2, .max_msgs_per_subject = 1, .discard = NE_STORE_DISCARD_NEW};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    put("k.a", "1");
    put("k.b", "2");
    put("k.a", "3");
    uint64_t seq;
    assert_int_equal(put_full("k.c", NULL, "4", 0, &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_MSGS);
    assert_int_equal(get_state().msgs, 2);
    expect_msg(3, "k.a", "3");
}

static void test_expire_drops_messages_older_than_max_age(void **state)
{
    (void)state;
    ne_store_limits l = {.max_age_ns = 100};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    put_full("a", NULL, "1", 1000, NULL);
    put_full("a", NULL, "2", 1050, NULL);
    put_full("a", NULL, "3", 1200, NULL);
    uint64_t expired = 0;
    assert_int_equal(ne_store_expire(&store, 1100, &expired), NE_OK);
    assert_int_equal(expired, 1);
    assert_int_equal(ne_store_expire(&store, 1250, &expired), NE_OK);
    assert_int_equal(expired, 1);
    assert_int_equal(get_state().first_seq, 3);
    assert_int_equal(ne_store_expire(&store, 50, &expired), NE_OK);
    assert_int_equal(expired, 0);
    l.max_age_ns = 0;
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    assert_int_equal(ne_store_expire(&store, UINT64_MAX, NULL), NE_OK);
    assert_int_equal(get_state().msgs, 1);
}

static void test_lowering_limits_applies_at_once(void **state)
{
    (void)state;
    for (int i = 0; i < 6; i++) {
        put(i % 2 ? "k.a" : "k.b", "x");
    }
    ne_store_limits l = {.max_msgs_per_subject = 1, .discard = NE_STORE_DISCARD_NEW};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    assert_int_equal(get_state().msgs, 2);
    expect_msg(5, "k.b", "x");
    expect_msg(6, "k.a", "x");
    l.discard = 7;
    assert_int_equal(ne_store_set_limits(&store, &l), NE_ERR_INVALID);
}

/* The backend's own space (arena or flash) runs out: discard new refuses
 * with SPACE, discard old drops the oldest and goes on. */
static void test_backend_space_exhaustion(void **state)
{
    (void)state;
    static char payload[1001];
    memset(payload, 'p', 1000);
    ne_store_limits l = {.discard = NE_STORE_DISCARD_NEW};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    uint64_t seq = 0;
    int rc = NE_OK;
    int n = 0;
    for (; n < 1000 && rc == NE_OK; n++) {
        rc = put_full("fill", NULL, payload, 0, &seq);
    }
    assert_int_equal(rc, NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_SPACE);
    uint64_t stored = get_state().msgs;
    assert_true(stored > 10);
    l.discard = NE_STORE_DISCARD_OLD;
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(put_full("fill", NULL, payload, 0, &seq), NE_OK);
    }
    assert_true(get_state().msgs > 0);
    expect_msg(seq, "fill", payload);
    assert_int_equal(get_state().last_seq, seq);
}

/* KV-like churn: few keys, each rewritten many times; space must come back
 * from the dead revisions. */
static void test_kv_churn_reuses_space(void **state)
{
    (void)state;
    ne_store_limits l = {.max_msgs_per_subject = 1};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    static char payload[201];
    memset(payload, 'v', 200);
    char subject[16];
    for (int i = 0; i < 3000; i++) {
        snprintf(subject, sizeof(subject), "kv.%d", i % 7);
        payload[0] = (char)('a' + i % 26);
        put(subject, payload);
    }
    assert_int_equal(get_state().msgs, 7);
    for (int k = 0; k < 7; k++) {
        snprintf(subject, sizeof(subject), "kv.%d", k);
        ne_store_msg m;
        assert_int_equal(ne_store_load_last(&store, subject, strlen(subject), &m, buf, sizeof(buf)),
                         NE_OK);
        assert_int_equal(m.payload[0], 'a' + (int)((m.seq - 1) % 26));
    }
}

static void test_compact_reclaims_without_losing_messages(void **state)
{
    (void)state;
    static char payload[301];
    memset(payload, 'c', 300);
    for (int i = 0; i < 60; i++) {
        put(i % 3 == 0 ? "keep" : "drop", payload);
    }
    ne_store_purge_req req = {.subject = "drop", .subject_len = 4};
    assert_int_equal(ne_store_purge(&store, &req, NULL), NE_OK);
    uint32_t reclaimed = 0;
    assert_int_equal(ne_store_compact(&store, &reclaimed), NE_OK);
    assert_true(reclaimed > 0);
    for (int i = 0; i < 60; i++) {
        if (i % 3 == 0) {
            expect_msg((uint64_t)i + 1, "keep", payload);
        } else {
            expect_gone((uint64_t)i + 1);
        }
    }
    assert_int_equal(get_state().msgs, 20);
}

static void test_open_refuses_a_bad_subject_table(void **state)
{
    (void)state;
    ne_store_config cfg = {.subjects = subjects, .subject_capacity = 12};
    ne_store other;
    ne_store_mem other_mem;
    static uint8_t small[4096];
    assert_int_equal(ne_store_mem_open(&other, &other_mem, &cfg, small, sizeof(small), 16),
                     NE_ERR_INVALID);
    cfg.subject_capacity = 16;
    cfg.subjects = NULL;
    assert_int_equal(ne_store_mem_open(&other, &other_mem, &cfg, small, sizeof(small), 16),
                     NE_ERR_INVALID);
    cfg.subjects = subjects;
    assert_int_equal(ne_store_mem_open(&other, &other_mem, &cfg, small, sizeof(small), 0),
                     NE_ERR_INVALID);
    assert_int_equal(ne_store_mem_open(&other, &other_mem, &cfg, small, 64, 16), NE_ERR_NOMEM);
    cfg.limits.discard = 9;
    assert_int_equal(ne_store_mem_open(&other, &other_mem, &cfg, small, sizeof(small), 16),
                     NE_ERR_INVALID);
}

static void test_memory_index_span_bounds_the_store(void **state)
{
    (void)state;
    if (current != KIND_MEM) {
        skip();
    }
    ne_store_config cfg = {.subjects = subjects,
                           .subject_capacity = SUBJECTS,
                           .limits = {.discard = NE_STORE_DISCARD_NEW}};
    assert_int_equal(ne_store_mem_open(&store, &mem, &cfg, arena.bytes, sizeof(arena.bytes), 4),
                     NE_OK);
    for (int i = 0; i < 4; i++) {
        put("a", "x");
    }
    uint64_t seq;
    assert_int_equal(put_full("a", NULL, "x", 0, &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_refused_by(&store), NE_STORE_LIMIT_SPACE);
    /* A hole at the front frees the span; one inside does not. */
    assert_int_equal(ne_store_delete(&store, 2), NE_OK);
    assert_int_equal(put_full("a", NULL, "x", 0, &seq), NE_ERR_FULL);
    assert_int_equal(ne_store_delete(&store, 1), NE_OK);
    assert_int_equal(put_full("a", NULL, "x", 0, &seq), NE_OK);
    assert_int_equal(put_full("a", NULL, "x", 0, &seq), NE_OK);
    assert_int_equal(seq, 6);
}

#define BOTH(test)                                                                                 \
    cmocka_unit_test_prestate_setup_teardown(test, setup, teardown, (void *)KIND_MEM),             \
        cmocka_unit_test_prestate_setup_teardown(test, setup, teardown, (void *)KIND_FLASH)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_append_assigns_increasing_sequences),
        BOTH(test_load_returns_the_message_byte_exact),
        BOTH(test_empty_payload_and_no_headers_round_trip),
        BOTH(test_load_of_absent_sequences_is_not_found),
        BOTH(test_load_into_small_buffer_reports_the_sizes),
        BOTH(test_append_refuses_invalid_messages),
        BOTH(test_message_larger_than_the_backend_is_too_big),
        BOTH(test_load_last_finds_the_newest_of_a_subject),
        BOTH(test_load_last_after_its_newest_is_deleted),
        BOTH(test_load_next_follows_a_filter),
        BOTH(test_full_subject_table_refuses_new_subjects),
        BOTH(test_delete_interior_leaves_a_gap),
        BOTH(test_delete_first_moves_the_front),
        BOTH(test_purge_everything_keeps_the_sequence),
        BOTH(test_purge_up_to_a_sequence),
        BOTH(test_purge_keeping_the_newest),
        BOTH(test_purge_of_one_subject),
        BOTH(test_purge_of_a_subject_keeping_the_newest),
        BOTH(test_purge_with_wildcard_and_sequence),
        BOTH(test_max_msgs_discard_old_drops_the_oldest),
        BOTH(test_max_msgs_discard_new_refuses),
        BOTH(test_max_bytes_discard_old_and_new),
        BOTH(test_max_msg_size_refuses_large_messages),
        BOTH(test_max_msgs_per_subject_keeps_history),
        BOTH(test_discard_new_per_subject_refuses),
        BOTH(test_discard_new_lets_a_subject_at_its_limit_replace),
        BOTH(test_expire_drops_messages_older_than_max_age),
        BOTH(test_lowering_limits_applies_at_once),
        BOTH(test_backend_space_exhaustion),
        BOTH(test_kv_churn_reuses_space),
        BOTH(test_compact_reclaims_without_losing_messages),
        BOTH(test_open_refuses_a_bad_subject_table),
        BOTH(test_memory_index_span_bounds_the_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
