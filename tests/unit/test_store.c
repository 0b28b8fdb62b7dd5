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
#include "store/ne_store_dev.h"
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
static ne_store_dev dev;
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static ne_sim_flash sim;
static uint8_t image[BLOCKS * ERASE_BYTES];
static uint32_t erase_counts[BLOCKS];
static uint8_t programmed[NE_SIM_FLASH_PROGRAMMED_BYTES(BLOCKS, ERASE_BYTES, PROGRAM_BYTES)];
static ne_store_subject subjects[SUBJECTS];
static char subject_text[1024];
static ne_snappy_table table;
static enum kind current;
static uint8_t buf[8192];

static const ne_flash_geometry geometry = {
    .program_bytes = PROGRAM_BYTES, .erase_bytes = ERASE_BYTES, .block_count = BLOCKS};

static int open_store(const ne_store_limits *limits)
{
    ne_store_config cfg = {.subjects = subjects,
                           .subject_capacity = SUBJECTS,
                           .subject_text = subject_text,
                           .subject_text_bytes = sizeof(subject_text)};
    if (limits != NULL) {
        cfg.limits = *limits;
    }
    if (current == KIND_MEM) {
        return ne_store_mem_open(&store, &mem, &cfg, arena.bytes, sizeof(arena.bytes), 1024);
    }
    /* One stream, "S", on the device: created on a new device, attached
     * again at every reopen. */
    int rc = ne_store_dev_open(&dev, &sim.flash, &table);
    if (rc != NE_OK) {
        return rc;
    }
    ne_store_entry e;
    uint32_t id = 0;
    rc = ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, "S", 1, &e, entry_buf, sizeof(entry_buf));
    if (rc == NE_ERR_NOT_FOUND) {
        rc = ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "S", 1, NULL, 0, &id);
    } else {
        id = e.id;
    }
    if (rc != NE_OK) {
        return rc;
    }
    return ne_store_attach(&store, &dev, id, &cfg);
}

static uint32_t store_id(void)
{
    ne_store_entry e;
    assert_int_equal(
        ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, "S", 1, &e, entry_buf, sizeof(entry_buf)),
        NE_OK);
    return e.id;
}

/* Back to the stream the teardown checks, attached as setup attached it. */
static void reattach_default(void)
{
    if (current == KIND_FLASH) {
        assert_int_equal(ne_store_detach(&store), NE_OK);
        ne_store_config cfg = {.subjects = subjects,
                               .subject_capacity = SUBJECTS,
                               .subject_text = subject_text,
                               .subject_text_bytes = sizeof(subject_text)};
        assert_int_equal(ne_store_attach(&store, &dev, store_id(), &cfg), NE_OK);
    }
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
    if (current != KIND_FLASH || dev.failed != NE_OK) {
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

/* ---- Sequences given by the caller, skips, truncation (StreamStore) -------- */

static int put_at(const char *subject, const char *payload, uint64_t seq, uint64_t ts)
{
    ne_store_msg m = {.subject = subject,
                      .subject_len = strlen(subject),
                      .payload = (const uint8_t *)payload,
                      .payload_len = strlen(payload),
                      .timestamp_ns = ts};
    return ne_store_append_at(&store, &m, seq);
}

static void test_append_at_skips_the_sequences_between(void **state)
{
    (void)state;
    put("a", "1");
    assert_int_equal(put_at("a", "5", 5, 1000), NE_OK);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 2);
    assert_int_equal(st.last_seq, 5);
    assert_int_equal(st.num_deleted, 3);
    expect_gone(3);
    expect_msg(5, "a", "5");
    assert_int_equal(put("a", "6"), 6);
}

static void test_append_at_refuses_a_sequence_not_above_the_last(void **state)
{
    (void)state;
    put("a", "1");
    put("a", "2");
    assert_int_equal(put_at("a", "x", 2, 1000), NE_ERR_RANGE);
    assert_int_equal(put_at("a", "x", 1, 1000), NE_ERR_RANGE);
    assert_int_equal(get_state().msgs, 2);
}

static void test_append_at_into_an_empty_store_starts_there(void **state)
{
    (void)state;
    assert_int_equal(put_at("m", "first", 100, 1000), NE_OK);
    ne_store_state st = get_state();
    assert_int_equal(st.first_seq, 100);
    assert_int_equal(st.last_seq, 100);
    assert_int_equal(st.num_deleted, 0);
}

static void test_skip_moves_an_empty_store_forward(void **state)
{
    (void)state;
    uint64_t first = 0;
    assert_int_equal(ne_store_skip(&store, 10, &first), NE_OK);
    assert_int_equal(first, 1);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 0);
    assert_int_equal(st.first_seq, 11);
    assert_int_equal(st.last_seq, 10);
    assert_int_equal(put("a", "x"), 11);
}

static void test_skip_after_messages_leaves_a_gap(void **state)
{
    (void)state;
    put("a", "1");
    put("a", "2");
    assert_int_equal(ne_store_skip(&store, 3, NULL), NE_OK);
    assert_int_equal(put("a", "6"), 6);
    ne_store_state st = get_state();
    assert_int_equal(st.first_seq, 1);
    assert_int_equal(st.num_deleted, 3);
    assert_int_equal(ne_store_skip(&store, 0, NULL), NE_ERR_RANGE);
}

static void test_set_first_removes_below_and_can_move_past_the_end(void **state)
{
    (void)state;
    for (int i = 0; i < 10; i++) {
        put("a", "x");
    }
    uint64_t purged = 0;
    assert_int_equal(ne_store_set_first(&store, 4, &purged), NE_OK);
    assert_int_equal(purged, 3);
    assert_int_equal(get_state().first_seq, 4);
    assert_int_equal(ne_store_set_first(&store, 20, &purged), NE_OK);
    assert_int_equal(purged, 7);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 0);
    assert_int_equal(st.first_seq, 20);
    assert_int_equal(st.last_seq, 19);
    assert_int_equal(put("a", "y"), 20);
}

static void test_truncate_removes_the_tail_and_sequences_go_on_from_there(void **state)
{
    (void)state;
    for (int i = 0; i < 12; i++) {
        put(i % 2 == 0 ? "even" : "odd", "x");
    }
    assert_int_equal(ne_store_truncate(&store, 7), NE_OK);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 7);
    assert_int_equal(st.last_seq, 7);
    expect_gone(8);
    uint64_t msgs = 0;
    uint64_t last = 0;
    assert_int_equal(ne_store_subject_state(&store, "odd", 3, &msgs, &last), NE_OK);
    assert_int_equal(msgs, 3);
    assert_int_equal(last, 6);
    assert_int_equal(put("odd", "new"), 8);
    expect_msg(8, "odd", "new");
    /* Truncating above the last changes nothing; below the first is refused. */
    assert_int_equal(ne_store_truncate(&store, 100), NE_OK);
    assert_int_equal(ne_store_purge(&store, &(ne_store_purge_req){.up_to_seq = 5}, NULL), NE_OK);
    assert_int_equal(ne_store_truncate(&store, 2), NE_ERR_RANGE);
    assert_int_equal(ne_store_truncate(&store, 4), NE_OK);
    st = get_state();
    assert_int_equal(st.msgs, 0);
    assert_int_equal(st.first_seq, 5);
    assert_int_equal(st.last_seq, 4);
}

/* An empty store whose last sequences were skipped (or lost with a power
 * cut) may be truncated back into them: a RAFT log cut back to its last
 * entry, a mirror resetting its position. Not below what was removed. */
static void test_truncate_of_an_empty_store_goes_back_into_skipped_sequences(void **state)
{
    (void)state;
    put("a", "1");
    put("a", "2");
    put("a", "3");
    assert_int_equal(ne_store_purge(&store, &(ne_store_purge_req){0}, NULL), NE_OK);
    assert_int_equal(ne_store_skip(&store, 7, NULL), NE_OK);
    ne_store_state st = get_state();
    assert_int_equal(st.msgs, 0);
    assert_int_equal(st.first_seq, 11);
    assert_int_equal(ne_store_truncate(&store, 2), NE_ERR_RANGE);
    assert_int_equal(ne_store_truncate(&store, 5), NE_OK);
    st = get_state();
    assert_int_equal(st.msgs, 0);
    assert_int_equal(st.first_seq, 6);
    assert_int_equal(st.last_seq, 5);
    assert_int_equal(put("a", "6"), 6);
    expect_msg(6, "a", "6");
}

static void test_erase_removes_a_message(void **state)
{
    (void)state;
    put("a", "one");
    put("a", "secret");
    put("a", "three");
    assert_int_equal(ne_store_erase(&store, 2), NE_OK);
    expect_gone(2);
    expect_msg(3, "a", "three");
    assert_int_equal(get_state().msgs, 2);
    assert_int_equal(ne_store_erase(&store, 2), NE_ERR_NOT_FOUND);
}

/* ---- Time --------------------------------------------------------------------- */

static void test_seq_for_time_finds_the_first_at_or_after(void **state)
{
    (void)state;
    assert_int_equal(put_at("t", "a", 1, 100), NE_OK);
    assert_int_equal(put_at("t", "b", 2, 300), NE_OK);
    assert_int_equal(put_at("t", "c", 3, 200), NE_OK); /* mirrored: older than the one before */
    assert_int_equal(put_at("t", "d", 4, 400), NE_OK);
    uint64_t seq = 0;
    assert_int_equal(ne_store_seq_for_time(&store, 50, &seq), NE_OK);
    assert_int_equal(seq, 1);
    assert_int_equal(ne_store_seq_for_time(&store, 150, &seq), NE_OK);
    assert_int_equal(seq, 2);
    assert_int_equal(ne_store_seq_for_time(&store, 400, &seq), NE_OK);
    assert_int_equal(seq, 4);
    assert_int_equal(ne_store_seq_for_time(&store, 401, &seq), NE_OK);
    assert_int_equal(seq, 5);
}

static void test_expire_uses_each_message_time_not_its_place(void **state)
{
    (void)state;
    ne_store_limits l = {.max_age_ns = 1000};
    assert_int_equal(ne_store_set_limits(&store, &l), NE_OK);
    assert_int_equal(put_at("t", "new", 1, 9000), NE_OK);
    assert_int_equal(put_at("t", "old", 2, 1000), NE_OK);
    assert_int_equal(put_at("t", "new", 3, 9500), NE_OK);
    assert_int_equal(put_at("t", "old", 4, 2000), NE_OK);
    uint64_t expired = 0;
    assert_int_equal(ne_store_expire(&store, 8500, &expired), NE_OK);
    assert_int_equal(expired, 2);
    expect_gone(2);
    expect_gone(4);
    expect_msg(1, "t", "new");
    expect_msg(3, "t", "new");
    assert_int_equal(ne_store_expire(&store, 10200, &expired), NE_OK);
    assert_int_equal(expired, 1);
    expect_gone(1);
    assert_int_equal(get_state().first_seq, 3);
}

/* ---- Counting without reading ------------------------------------------------- */

static void fill_kv(void)
{
    /* $KV.cfg.a: 1, 4, 7; $KV.cfg.b: 2, 5; $KV.other.c: 3, 6 */
    static const char *subjects_in_order[] = {"$KV.cfg.a", "$KV.cfg.b", "$KV.other.c",
                                              "$KV.cfg.a", "$KV.cfg.b", "$KV.other.c",
                                              "$KV.cfg.a"};
    for (size_t i = 0; i < 7; i++) {
        put(subjects_in_order[i], "v");
    }
}

static ne_store_simple_state filtered(uint64_t from, const char *filter)
{
    ne_store_simple_state st;
    assert_int_equal(
        ne_store_filtered_state(&store, from, filter, filter != NULL ? strlen(filter) : 0, &st),
        NE_OK);
    return st;
}

static void test_filtered_state_counts_subjects_and_wildcards(void **state)
{
    (void)state;
    fill_kv();
    ne_store_simple_state st = filtered(1, "$KV.cfg.*");
    assert_int_equal(st.msgs, 5);
    assert_int_equal(st.first_seq, 1);
    assert_int_equal(st.last_seq, 7);
    st = filtered(3, "$KV.cfg.*");
    assert_int_equal(st.msgs, 3);
    assert_int_equal(st.first_seq, 4);
    assert_int_equal(st.last_seq, 7);
    st = filtered(6, "$KV.cfg.b");
    assert_int_equal(st.msgs, 0);
    st = filtered(2, "$KV.>");
    assert_int_equal(st.msgs, 6);
    st = filtered(1, NULL);
    assert_int_equal(st.msgs, 7);
    assert_int_equal(st.last_seq, 7);
    /* After removals at both ends of a subject. */
    assert_int_equal(ne_store_delete(&store, 1), NE_OK);
    assert_int_equal(ne_store_delete(&store, 7), NE_OK);
    st = filtered(1, "$KV.cfg.a");
    assert_int_equal(st.msgs, 1);
    assert_int_equal(st.first_seq, 4);
    assert_int_equal(st.last_seq, 4);
    st = filtered(1, NULL);
    assert_int_equal(st.msgs, 5);
    assert_int_equal(st.first_seq, 2);
    assert_int_equal(st.last_seq, 6);
}

static void test_num_pending_per_message_and_last_per_subject(void **state)
{
    (void)state;
    fill_kv();
    uint64_t n = 0;
    assert_int_equal(ne_store_num_pending(&store, 1, "$KV.cfg.>", 9, false, &n), NE_OK);
    assert_int_equal(n, 5);
    assert_int_equal(ne_store_num_pending(&store, 1, "$KV.cfg.>", 9, true, &n), NE_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ne_store_num_pending(&store, 6, ">", 1, true, &n), NE_OK);
    assert_int_equal(n, 2); /* cfg.a (7) and other.c (6) */
    assert_int_equal(ne_store_num_pending(&store, 8, NULL, 0, false, &n), NE_OK);
    assert_int_equal(n, 0);
}

typedef struct seen_subjects {
    char names[4][32];
    ne_store_simple_state st[4];
    int count;
} seen_subjects;

static int note_subject(void *ctx, const char *subject, size_t len, const ne_store_simple_state *st)
{
    seen_subjects *seen = ctx;
    assert_true(seen->count < 4 && len < 32);
    memcpy(seen->names[seen->count], subject, len);
    seen->names[seen->count][len] = '\0';
    seen->st[seen->count] = *st;
    seen->count++;
    return NE_OK;
}

static int find_seen(const seen_subjects *seen, const char *name)
{
    for (int i = 0; i < seen->count; i++) {
        if (strcmp(seen->names[i], name) == 0) {
            return i;
        }
    }
    return -1;
}

static void test_subjects_state_lists_matching_subjects(void **state)
{
    (void)state;
    fill_kv();
    assert_int_equal(ne_store_delete(&store, 1), NE_OK);
    seen_subjects seen;
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(ne_store_subjects_state(&store, "$KV.cfg.*", 9, note_subject, &seen), NE_OK);
    assert_int_equal(seen.count, 2);
    int a = find_seen(&seen, "$KV.cfg.a");
    int b = find_seen(&seen, "$KV.cfg.b");
    assert_true(a >= 0 && b >= 0);
    assert_int_equal(seen.st[a].msgs, 2);
    assert_int_equal(seen.st[a].first_seq, 4);
    assert_int_equal(seen.st[a].last_seq, 7);
    assert_int_equal(seen.st[b].msgs, 2);
    assert_int_equal(seen.st[b].first_seq, 2);
    assert_int_equal(seen.st[b].last_seq, 5);
}

static void test_load_last_matching_a_wildcard(void **state)
{
    (void)state;
    fill_kv();
    ne_store_msg m;
    assert_int_equal(ne_store_load_last_matching(&store, "$KV.*.b", 7, &m, buf, sizeof(buf)),
                     NE_OK);
    assert_int_equal(m.seq, 5);
    assert_int_equal(ne_store_load_last_matching(&store, "$KV.other.>", 11, &m, buf, sizeof(buf)),
                     NE_OK);
    assert_int_equal(m.seq, 6);
    assert_int_equal(ne_store_load_last_matching(&store, "nope.*", 6, &m, buf, sizeof(buf)),
                     NE_ERR_NOT_FOUND);
}

typedef struct gap_list {
    uint64_t first[8];
    uint64_t count[8];
    int n;
} gap_list;

static int note_gap(void *ctx, uint64_t first, uint64_t count)
{
    gap_list *g = ctx;
    assert_true(g->n < 8);
    g->first[g->n] = first;
    g->count[g->n] = count;
    g->n++;
    return NE_OK;
}

static void test_deleted_lists_interior_gaps(void **state)
{
    (void)state;
    for (int i = 0; i < 10; i++) {
        put("a", "x");
    }
    assert_int_equal(ne_store_delete(&store, 3), NE_OK);
    assert_int_equal(ne_store_delete(&store, 4), NE_OK);
    assert_int_equal(ne_store_delete(&store, 8), NE_OK);
    assert_int_equal(ne_store_delete(&store, 10), NE_OK);
    gap_list g;
    memset(&g, 0, sizeof(g));
    assert_int_equal(ne_store_deleted(&store, note_gap, &g), NE_OK);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.first[0], 3);
    assert_int_equal(g.count[0], 2);
    assert_int_equal(g.first[1], 8);
    assert_int_equal(g.count[1], 1);
    assert_int_equal(g.first[2], 10);
    assert_int_equal(g.count[2], 1);
    assert_int_equal(get_state().num_deleted, 4);
}

/* Two consumers reading at different places, turn by turn, each see every
 * message of their filter in order. */
static void test_readers_keep_their_own_positions(void **state)
{
    (void)state;
    for (int i = 0; i < 300; i++) {
        put(i % 3 == 0 ? "x.one" : "x.two", "payload payload payload payload payload");
    }
    ne_store_reader r1;
    ne_store_reader r2;
    ne_store_reader_init(&r1);
    ne_store_reader_init(&r2);
    uint64_t next1 = 1;
    uint64_t next2 = 150;
    uint64_t seen1 = 0;
    uint64_t seen2 = 0;
    for (int step = 0; step < 400; step++) {
        ne_store_msg m;
        if (next1 <= 300) {
            assert_int_equal(
                ne_store_read_next(&store, &r1, next1, "x.one", 5, &m, buf, sizeof(buf)), NE_OK);
            assert_int_equal((m.seq - 1) % 3, 0);
            assert_true(m.seq >= next1);
            next1 = m.seq + 1;
            seen1++;
            if (next1 > 298) {
                next1 = 301;
            }
        }
        if (next2 <= 300) {
            int rc = ne_store_read_next(&store, &r2, next2, NULL, 0, &m, buf, sizeof(buf));
            assert_int_equal(rc, NE_OK);
            assert_int_equal(m.seq, next2);
            next2++;
            seen2++;
        }
    }
    assert_int_equal(seen1, 100);
    assert_int_equal(seen2, 151);
}

/* Loads in order read each flash window once, not once per record; two
 * places read in turns (a reader ahead, removals behind it) keep a window
 * each (NE_STORE_READ_WINDOWS). Each load used to pread its record's body.
 * (Records of packs are read from the device's last decoded pack.) */
static void test_loads_in_order_read_each_window_once(void **state)
{
    (void)state;
    static char payloads[200][41];
    uint32_t x = 12345;
    dev.table = NULL; /* no packs: records one by one on flash */
    for (int i = 0; i < 200; i++) {
        for (int k = 0; k < 40; k++) {
            x = x * 1103515245u + 12345u;
            payloads[i][k] = (char)('!' + (x >> 16) % 90);
        }
        payloads[i][40] = '\0';
        put("x.one", payloads[i]);
    }
    assert_int_equal(ne_store_sync(&store), NE_OK);
    /* Blocks the records fill: about 100 B each on flash. */
    uint64_t blocks = 200 * 100 / ERASE_BYTES + 1;
    uint64_t before = sim.reads;
    for (uint64_t seq = 1; seq <= 200; seq++) {
        expect_msg(seq, "x.one", payloads[seq - 1]);
    }
    /* A window per block (blocks are one window here), and one more for a
     * record cut by a window's end. */
    assert_true(sim.reads - before <= 2 * blocks + 2);
    before = sim.reads;
    for (uint64_t seq = 1; seq <= 100; seq++) {
        expect_msg(seq + 100, "x.one", payloads[seq + 99]);
        expect_msg(seq, "x.one", payloads[seq - 1]);
    }
    assert_true(sim.reads - before <= 4 * blocks + 4);
}

/* ---- Keys ----------------------------------------------------------------------- */

static void test_raw_keys_take_any_bytes_and_prefix_filters(void **state)
{
    (void)state;
    ne_store_config cfg = {.subjects = subjects,
                           .subject_capacity = SUBJECTS,
                           .subject_text = subject_text,
                           .subject_text_bytes = sizeof(subject_text),
                           .flags = NE_STORE_RAW_KEYS};
    cfg.limits.max_msgs_per_subject = 1;
    if (current == KIND_MEM) {
        assert_int_equal(
            ne_store_mem_open(&store, &mem, &cfg, arena.bytes, sizeof(arena.bytes), 1024), NE_OK);
    } else {
        uint32_t id;
        assert_int_equal(
            ne_store_dev_create(&dev, NE_STORE_KIND_KV, 0, "sessions", 8, NULL, 0, &id), NE_OK);
        assert_int_equal(ne_store_detach(&store), NE_OK);
        assert_int_equal(ne_store_attach(&store, &dev, id, &cfg), NE_OK);
    }
    put("client one", "v1");
    put("client one", "v2");
    put("client two*", "w");
    put("other", "o");
    assert_int_equal(get_state().msgs, 3);
    ne_store_msg m;
    assert_int_equal(ne_store_load_last(&store, "client one", 10, &m, buf, sizeof(buf)), NE_OK);
    assert_int_equal(m.payload_len, 2);
    assert_memory_equal(m.payload, "v2", 2);
    seen_subjects seen;
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(ne_store_subjects_state(&store, "client>", 7, note_subject, &seen), NE_OK);
    assert_int_equal(seen.count, 2);
    assert_true(find_seen(&seen, "client two*") >= 0);
    uint64_t n;
    assert_int_equal(ne_store_num_pending(&store, 1, "client>", 7, false, &n), NE_OK);
    assert_int_equal(n, 2);
    reattach_default();
}

static void test_full_text_arena_refuses_new_subjects(void **state)
{
    (void)state;
    static char tiny[64];
    ne_store_config cfg = {.subjects = subjects,
                           .subject_capacity = SUBJECTS,
                           .subject_text = tiny,
                           .subject_text_bytes = sizeof(tiny)};
    if (current == KIND_MEM) {
        assert_int_equal(
            ne_store_mem_open(&store, &mem, &cfg, arena.bytes, sizeof(arena.bytes), 1024), NE_OK);
    } else {
        assert_int_equal(ne_store_detach(&store), NE_OK);
        assert_int_equal(ne_store_attach(&store, &dev, store_id(), &cfg), NE_OK);
    }
    put("subject.number.one", "x");
    put("subject.number.two", "x");
    uint64_t seq;
    assert_int_equal(put_full("subject.number.three", NULL, "x", 1, &seq), NE_OK);
    /* The third did not fit the arena: kept, but not tracked by subject. */
    ne_store_state st = get_state();
    assert_int_equal(st.num_subjects, 2);
    assert_int_equal(st.untracked_msgs, 1);
    /* Space comes back when a subject leaves. */
    assert_int_equal(ne_store_delete(&store, 1), NE_OK);
    put("subject.number.four", "x");
    assert_int_equal(get_state().num_subjects, 2);
    reattach_default();
}

static void test_wildcard_counts_need_the_text_arena(void **state)
{
    (void)state;
    ne_store_config cfg = {.subjects = subjects, .subject_capacity = SUBJECTS};
    if (current == KIND_MEM) {
        assert_int_equal(
            ne_store_mem_open(&store, &mem, &cfg, arena.bytes, sizeof(arena.bytes), 1024), NE_OK);
    } else {
        assert_int_equal(ne_store_detach(&store), NE_OK);
        assert_int_equal(ne_store_attach(&store, &dev, store_id(), &cfg), NE_OK);
    }
    fill_kv();
    seen_subjects seen;
    memset(&seen, 0, sizeof(seen));
    assert_int_equal(ne_store_subjects_state(&store, "$KV.>", 5, note_subject, &seen),
                     NE_ERR_UNSUPPORTED);
    /* A literal filter or a count of everything still works, and a wildcard
     * count reads the messages. */
    assert_int_equal(filtered(1, "$KV.cfg.a").msgs, 3);
    assert_int_equal(filtered(1, "$KV.cfg.*").msgs, 5);
    reattach_default();
}

#define BOTH(test)                                                                                 \
    cmocka_unit_test_prestate_setup_teardown(test, setup, teardown, (void *)KIND_MEM),             \
        cmocka_unit_test_prestate_setup_teardown(test, setup, teardown, (void *)KIND_FLASH)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(test_append_assigns_increasing_sequences),
        BOTH(test_append_at_skips_the_sequences_between),
        BOTH(test_append_at_refuses_a_sequence_not_above_the_last),
        BOTH(test_append_at_into_an_empty_store_starts_there),
        BOTH(test_skip_moves_an_empty_store_forward),
        BOTH(test_skip_after_messages_leaves_a_gap),
        BOTH(test_set_first_removes_below_and_can_move_past_the_end),
        BOTH(test_truncate_removes_the_tail_and_sequences_go_on_from_there),
        BOTH(test_truncate_of_an_empty_store_goes_back_into_skipped_sequences),
        BOTH(test_erase_removes_a_message),
        BOTH(test_seq_for_time_finds_the_first_at_or_after),
        BOTH(test_expire_uses_each_message_time_not_its_place),
        BOTH(test_filtered_state_counts_subjects_and_wildcards),
        BOTH(test_num_pending_per_message_and_last_per_subject),
        BOTH(test_subjects_state_lists_matching_subjects),
        BOTH(test_load_last_matching_a_wildcard),
        BOTH(test_deleted_lists_interior_gaps),
        BOTH(test_readers_keep_their_own_positions),
        cmocka_unit_test_prestate_setup_teardown(test_loads_in_order_read_each_window_once, setup,
                                                 teardown, (void *)KIND_FLASH),
        BOTH(test_raw_keys_take_any_bytes_and_prefix_filters),
        BOTH(test_full_text_arena_refuses_new_subjects),
        BOTH(test_wildcard_counts_need_the_text_arena),
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
