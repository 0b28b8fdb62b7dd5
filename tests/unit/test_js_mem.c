/* JetStream's memory storage (src/js/ne_js_mem.c) through the storage
 * interface (ne_js_store.h): sequences, lookups by sequence, subject,
 * filter and time, per-subject state, removal, and pool exhaustion. After
 * each test every block and subject entry is back in its pool. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "core/ne_subject.h"
#include "js/ne_js_mem.h"

static ne_js_mem mem;
static ne_js_mem_storage storage;
static ne_js_store st;
static ne_js_store st2;

static int setup(void **state)
{
    (void)state;
    memset(&mem, 0, sizeof(mem));
    ne_js_mem_init(&mem, &storage);
    ne_js_mem_open(&mem, &st, 1);
    ne_js_mem_open(&mem, &st2, 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    st.ops->drop(&st);
    st2.ops->drop(&st2);
    assert_int_equal(mem.blocks.in_use, 0);
    assert_int_equal(mem.subjects.in_use, 0);
    return 0;
}

static uint64_t put(ne_js_store *s, const char *subject, const char *data, uint64_t ts)
{
    ne_js_msg_in m;
    memset(&m, 0, sizeof(m));
    m.subject = (ne_slice){subject, (uint32_t)strlen(subject)};
    m.data = (const uint8_t *)data;
    m.data_len = (uint32_t)strlen(data);
    uint64_t seq = 0;
    assert_int_equal(s->ops->append(s, &m, ts, &seq), NE_OK);
    return seq;
}

static ne_slice sl(const char *text)
{
    return (ne_slice){text, (uint32_t)strlen(text)};
}

static char subj[256];

static ne_js_msg_info info_buf(void)
{
    ne_js_msg_info i;
    memset(&i, 0, sizeof(i));
    i.subject = subj;
    i.subject_cap = sizeof(subj);
    return i;
}

static void test_append_assigns_sequences_and_reads_back(void **state)
{
    (void)state;
    assert_int_equal(put(&st, "a.b", "one", 10), 1);
    assert_int_equal(put(&st, "a.c", "two", 20), 2);
    assert_int_equal(put(&st2, "a.b", "other", 30), 1); /* streams are apart */
    assert_int_equal(st.state.msgs, 2);
    assert_int_equal(st.state.first_seq, 1);
    assert_int_equal(st.state.last_seq, 2);
    assert_int_equal(st.state.first_ts_ns, 10);
    assert_int_equal(st.state.last_ts_ns, 20);
    assert_int_equal(st.state.bytes, (3 + 3 + 16) * 2);
    assert_int_equal(st.state.num_subjects, 2);
    ne_js_msg_info i = info_buf();
    assert_int_equal(st.ops->info(&st, 2, &i), NE_OK);
    assert_int_equal(i.seq, 2);
    assert_int_equal(i.ts_ns, 20);
    assert_int_equal(i.subject_len, 3);
    assert_memory_equal(subj, "a.c", 3);
    char body[8];
    assert_int_equal(st.ops->read(&st, 2, 0, body, 3), NE_OK);
    assert_memory_equal(body, "two", 3);
    assert_int_equal(st.ops->read(&st, 2, 1, body, 3), NE_ERR_RANGE);
    assert_int_equal(st.ops->info(&st, 3, &i), NE_ERR_NOT_FOUND);
}

static void test_large_message_spans_blocks(void **state)
{
    (void)state;
    static char big[5000];
    for (size_t k = 0; k < sizeof(big) - 1; k++) {
        big[k] = (char)('a' + k % 26);
    }
    big[sizeof(big) - 1] = '\0';
    ne_js_msg_in m;
    memset(&m, 0, sizeof(m));
    m.subject = sl("big.subject");
    const char hdr[] = "NATS/1.0\r\nA: b\r\n\r\n";
    m.hdr = (const uint8_t *)hdr;
    m.hdr_len = (uint32_t)strlen(hdr);
    m.data = (const uint8_t *)big;
    m.data_len = (uint32_t)strlen(big);
    uint64_t seq = 0;
    assert_int_equal(st.ops->append(&st, &m, 1, &seq), NE_OK);
    assert_int_equal(mem.blocks.in_use, ne_js_mem_blocks_for(m.subject.len, m.hdr_len, m.data_len));
    static char back[6000];
    assert_int_equal(st.ops->read(&st, seq, 0, back, m.hdr_len + m.data_len), NE_OK);
    assert_memory_equal(back, hdr, m.hdr_len);
    assert_memory_equal(back + m.hdr_len, big, m.data_len);
    /* A piece in the middle. */
    assert_int_equal(st.ops->read(&st, seq, m.hdr_len + 3000, back, 100), NE_OK);
    assert_memory_equal(back, big + 3000, 100);
}

static void test_next_with_filters(void **state)
{
    (void)state;
    put(&st, "kv.a", "1", 1);
    put(&st, "kv.b", "2", 2);
    put(&st, "other", "3", 3);
    put(&st, "kv.a", "4", 4);
    ne_js_msg_info i = info_buf();
    assert_int_equal(st.ops->next(&st, 1, sl(""), &i), NE_OK);
    assert_int_equal(i.seq, 1);
    assert_int_equal(st.ops->next(&st, 2, sl("kv.a"), &i), NE_OK);
    assert_int_equal(i.seq, 4);
    assert_int_equal(st.ops->next(&st, 2, sl("kv.*"), &i), NE_OK);
    assert_int_equal(i.seq, 2);
    assert_int_equal(st.ops->next(&st, 3, sl("kv.>"), &i), NE_OK);
    assert_int_equal(i.seq, 4);
    assert_int_equal(st.ops->next(&st, 5, sl(">"), &i), NE_ERR_NOT_FOUND);
    assert_int_equal(st.ops->next(&st, 1, sl("none"), &i), NE_ERR_NOT_FOUND);
    assert_int_equal(st.ops->last(&st, sl("kv.a"), &i), NE_OK);
    assert_int_equal(i.seq, 4);
    assert_int_equal(st.ops->last(&st, sl("kv.b"), &i), NE_OK);
    assert_int_equal(i.seq, 2);
    assert_int_equal(st.ops->last(&st, sl("*"), &i), NE_OK);
    assert_int_equal(i.seq, 3);
}

static void test_remove_keeps_state_and_subjects(void **state)
{
    (void)state;
    put(&st, "a", "1", 1);
    put(&st, "b", "2", 2);
    put(&st, "a", "3", 3);
    assert_int_equal(st.ops->remove(&st, 1, false), NE_OK);
    assert_int_equal(st.ops->remove(&st, 1, false), NE_ERR_NOT_FOUND);
    assert_int_equal(st.state.first_seq, 2);
    assert_int_equal(st.state.first_ts_ns, 2);
    ne_js_subject_state ss;
    assert_int_equal(st.ops->subject_state(&st, sl("a"), &ss), NE_OK);
    assert_int_equal(ss.msgs, 1);
    assert_int_equal(ss.first_seq, 3);
    assert_int_equal(st.ops->remove(&st, 2, true), NE_OK);
    assert_int_equal(st.state.num_subjects, 1);
    assert_int_equal(st.ops->subject_state(&st, sl("b"), &ss), NE_ERR_NOT_FOUND);
    assert_int_equal(st.ops->remove(&st, 3, false), NE_OK);
    /* Empty: first is last + 1, last stays. */
    assert_int_equal(st.state.msgs, 0);
    assert_int_equal(st.state.bytes, 0);
    assert_int_equal(st.state.first_seq, 4);
    assert_int_equal(st.state.last_seq, 3);
    assert_int_equal(put(&st, "c", "4", 4), 4);
    assert_int_equal(st.state.first_seq, 4);
}

static void test_skip_moves_last_sequence(void **state)
{
    (void)state;
    assert_int_equal(st.ops->skip_to(&st, 10), NE_OK);
    assert_int_equal(st.state.first_seq, 10);
    assert_int_equal(put(&st, "x", "", 1), 10);
}

static void test_seq_at_time(void **state)
{
    (void)state;
    put(&st, "a", "1", 100);
    put(&st, "a", "2", 200);
    put(&st, "a", "3", 300);
    assert_int_equal(st.ops->seq_at_time(&st, 0), 1);
    assert_int_equal(st.ops->seq_at_time(&st, 150), 2);
    assert_int_equal(st.ops->seq_at_time(&st, 300), 3);
    assert_int_equal(st.ops->seq_at_time(&st, 301), 4);
}

typedef struct visit_ctx {
    int count;
    uint64_t msgs;
} visit_ctx;

static bool visit(void *ctx, ne_slice subject, const ne_js_subject_state *s)
{
    visit_ctx *v = ctx;
    v->count++;
    v->msgs += s->msgs;
    return true;
}

static void test_each_subject_with_filter(void **state)
{
    (void)state;
    put(&st, "$KV.b.one", "1", 1);
    put(&st, "$KV.b.two", "2", 2);
    put(&st, "$KV.b.one", "3", 3);
    put(&st, "$KV.c.x", "4", 4);
    visit_ctx v = {0, 0};
    st.ops->each_subject(&st, sl("$KV.b.>"), visit, &v);
    assert_int_equal(v.count, 2);
    assert_int_equal(v.msgs, 3);
    v = (visit_ctx){0, 0};
    st.ops->each_subject(&st, sl(""), visit, &v);
    assert_int_equal(v.count, 3);
}

/* filtered() against a count of next() steps, after random removals. */
static void test_filtered_matches_a_walk(void **state)
{
    (void)state;
    const char *subjects[] = {"s.a", "s.b", "t.a", "s.c.d"};
    uint64_t x = 12345;
    for (int k = 0; k < 400; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        put(&st, subjects[(x >> 33) % 4], "p", (uint64_t)k);
    }
    for (int k = 0; k < 150; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        (void)st.ops->remove(&st, 1 + (x >> 33) % 400, false);
    }
    const char *filters[] = {"", "s.*", "s.>", "t.a", "s.a", "*.a", "none"};
    for (size_t f = 0; f < sizeof(filters) / sizeof(filters[0]); f++) {
        for (uint64_t from = 1; from <= 401; from += 37) {
            ne_js_subject_state got;
            st.ops->filtered(&st, sl(filters[f]), from, &got);
            uint64_t count = 0, first = 0, last = 0;
            ne_js_msg_info i = info_buf();
            uint64_t at = from;
            while (st.ops->next(&st, at, sl(filters[f]), &i) == NE_OK) {
                if (count == 0) {
                    first = i.seq;
                }
                last = i.seq;
                count++;
                at = i.seq + 1;
            }
            assert_int_equal(got.msgs, count);
            if (count > 0) {
                assert_int_equal(got.first_seq, first);
                assert_int_equal(got.last_seq, last);
            }
        }
    }
}

static void test_exhausted_blocks_store_nothing(void **state)
{
    (void)state;
    static char big[NE_JS_MEM_BLOCK_BYTES * 64];
    memset(big, 'x', sizeof(big) - 1);
    ne_js_msg_in m;
    memset(&m, 0, sizeof(m));
    m.subject = sl("fill");
    m.data = (const uint8_t *)big;
    m.data_len = sizeof(big) - 1;
    uint64_t seq = 0;
    int rc = NE_OK;
    for (int k = 0; k < NE_JS_MEM_BLOCKS && rc == NE_OK; k++) {
        rc = st.ops->append(&st, &m, 1, &seq);
    }
    assert_int_equal(rc, NE_ERR_NOMEM);
    uint64_t msgs = st.state.msgs;
    /* A new subject takes no entry when its message does not fit. */
    m.subject = sl("fresh");
    assert_int_equal(st.ops->append(&st, &m, 1, &seq), NE_ERR_NOMEM);
    assert_int_equal(st.state.msgs, msgs);
    assert_int_equal(st.state.num_subjects, 1);
    assert_int_equal(mem.subjects.in_use, 1);
    /* Removing one makes room again. */
    assert_int_equal(st.ops->remove(&st, st.state.first_seq, false), NE_OK);
    assert_int_equal(st.ops->append(&st, &m, 1, &seq), NE_OK);
}

static void test_sparse_sequences_are_found(void **state)
{
    (void)state;
    for (int k = 0; k < 200; k++) {
        put(&st, k % 2 == 0 ? "even" : "odd", "v", (uint64_t)k);
    }
    /* Remove a long run in the middle: next() walks past it. */
    for (uint64_t s = 20; s < 180; s++) {
        assert_int_equal(st.ops->remove(&st, s, false), NE_OK);
    }
    ne_js_msg_info i = info_buf();
    assert_int_equal(st.ops->next(&st, 25, sl(""), &i), NE_OK);
    assert_int_equal(i.seq, 180);
    assert_int_equal(st.ops->next(&st, 175, sl("odd"), &i), NE_OK);
    assert_int_equal(i.seq, 180);
    assert_int_equal(st.ops->next(&st, 100, sl("*"), &i), NE_OK);
    assert_int_equal(i.seq, 180);
    assert_int_equal(st.ops->next(&st, 100, sl("even"), &i), NE_OK);
    assert_int_equal(i.seq, 181);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_assigns_sequences_and_reads_back, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_large_message_spans_blocks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_next_with_filters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_keeps_state_and_subjects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_skip_moves_last_sequence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_seq_at_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_each_subject_with_filter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_filtered_matches_a_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exhausted_blocks_store_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sparse_sequences_are_found, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
