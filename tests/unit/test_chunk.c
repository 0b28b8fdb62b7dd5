/* Unit tests of pools, chunks and outbound queues (src/core). After each
 * test every pool is back to idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_chunk.h"
#include "core/ne_error.h"

#define TEST_CHUNKS 8
#define TEST_REFS 16

static NE_POOL_STORAGE(ne_chunk, TEST_CHUNKS) chunk_storage;
static NE_POOL_STORAGE(ne_outref, TEST_REFS) ref_storage;
static ne_chunk_pools pools;

static int setup(void **state)
{
    (void)state;
    ne_chunk_pools_init(&pools, &chunk_storage, TEST_CHUNKS, &ref_storage, TEST_REFS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Leak check after every test (STYLE.md). */
    assert_int_equal(pools.chunks.in_use, 0);
    assert_int_equal(pools.refs.in_use, 0);
    assert_int_equal(pools.promised, 0);
    return 0;
}

static size_t drain(ne_outq *q, uint8_t *out, size_t cap, size_t step)
{
    size_t total = 0;
    while (q->bytes > 0) {
        ne_iovec iov[8];
        int n = ne_outq_iov(q, iov, 8);
        size_t take = step;
        size_t got = 0;
        for (int i = 0; i < n && got < take; i++) {
            size_t k = iov[i].len < take - got ? iov[i].len : take - got;
            assert_true(total + got + k <= cap);
            memcpy(out + total + got, iov[i].base, k);
            got += k;
        }
        ne_outq_consume(q, &pools, got);
        total += got;
    }
    return total;
}

static void test_pool_hands_out_every_slot_then_counts_exhaustion(void **state)
{
    (void)state;
    ne_pool p;
    static NE_POOL_STORAGE(uint64_t, 4) storage;
    ne_pool_init(&p, "t", &storage, sizeof(uint64_t), 4);
    void *objs[4];
    for (int i = 0; i < 4; i++) {
        objs[i] = ne_pool_alloc(&p);
        assert_non_null(objs[i]);
        assert_true(ne_pool_owns(&p, objs[i]));
        assert_int_equal(ne_pool_index(&p, objs[i]), i);
    }
    assert_null(ne_pool_alloc(&p));
    assert_int_equal(p.exhausted, 1);
    assert_int_equal(p.peak, 4);
    for (int i = 0; i < 4; i++) {
        ne_pool_free(&p, objs[i]);
    }
    assert_int_equal(p.in_use, 0);
    assert_int_equal(ne_pool_available(&p), 4);
}

static void test_small_appends_share_one_chunk(void **state)
{
    (void)state;
    ne_outq q = {0};
    for (int i = 0; i < 100; i++) {
        assert_int_equal(ne_outq_append(&q, &pools, "hello ", 6), NE_OK);
    }
    assert_int_equal(pools.chunks.in_use, (600 + NE_CHUNK_BYTES - 1) / NE_CHUNK_BYTES);
    static uint8_t out[1024];
    assert_int_equal(drain(&q, out, sizeof(out), 7), 600);
    assert_memory_equal(out, "hello hello ", 12);
}

static void test_shared_payload_is_referenced_not_copied(void **state)
{
    (void)state;
    ne_chunk *c = ne_chunk_alloc(&pools);
    assert_non_null(c);
    memcpy(c->data, "payload\r\n", 9);
    c->used = 9;
    ne_outq a = {0}, b = {0};
    assert_int_equal(ne_outq_append(&a, &pools, "MSG x 1 7\r\n", 11), NE_OK);
    assert_int_equal(ne_outq_append_shared(&a, &pools, c, 0, 9), NE_OK);
    assert_int_equal(ne_outq_append(&b, &pools, "MSG x 2 7\r\n", 11), NE_OK);
    assert_int_equal(ne_outq_append_shared(&b, &pools, c, 0, 9), NE_OK);
    assert_int_equal(c->refs, 3);
    ne_chunk_release(&pools, c);
    static uint8_t out[64];
    assert_int_equal(drain(&a, out, sizeof(out), 3), 20);
    assert_memory_equal(out, "MSG x 1 7\r\npayload\r\n", 20);
    assert_int_equal(drain(&b, out, sizeof(out), 100), 20);
    assert_memory_equal(out, "MSG x 2 7\r\npayload\r\n", 20);
}

static void test_shared_range_spans_a_chain(void **state)
{
    (void)state;
    ne_chunk *c1 = ne_chunk_alloc(&pools);
    ne_chunk *c2 = ne_chunk_alloc(&pools);
    memset(c1->data, 'a', NE_CHUNK_BYTES);
    c1->used = NE_CHUNK_BYTES;
    memset(c2->data, 'b', 10);
    c2->used = 10;
    c1->next = c2;
    ne_outq q = {0};
    assert_int_equal(ne_outq_append_shared(&q, &pools, c1, 5, NE_CHUNK_BYTES - 5 + 10), NE_OK);
    ne_chunk_chain_release(&pools, c1);
    static uint8_t out[NE_CHUNK_BYTES + 16];
    size_t n = drain(&q, out, sizeof(out), 1000);
    assert_int_equal(n, NE_CHUNK_BYTES + 5);
    assert_int_equal(out[0], 'a');
    assert_int_equal(out[n - 1], 'b');
}

static void test_append_reports_exhaustion_and_clear_returns_everything(void **state)
{
    (void)state;
    ne_outq q = {0};
    static uint8_t big[NE_CHUNK_BYTES];
    memset(big, 'x', sizeof(big));
    int rc = NE_OK;
    for (int i = 0; i < TEST_CHUNKS + 2 && rc == NE_OK; i++) {
        rc = ne_outq_append(&q, &pools, big, sizeof(big));
    }
    assert_int_equal(rc, NE_ERR_NOMEM);
    assert_true(pools.chunks.exhausted > 0);
    ne_outq_clear(&q, &pools);
    assert_int_equal(q.bytes, 0);
}

/* A queue's bytes and its pools' use, to compare before and after a refusal. */
typedef struct queue_state {
    uint64_t bytes;
    uint32_t chunks;
    uint32_t refs;
    ne_outref *tail;
    uint32_t tail_len;
    uint32_t tail_used;
} queue_state;

static queue_state queue_state_of(const ne_outq *q)
{
    queue_state st = {q->bytes, pools.chunks.in_use, pools.refs.in_use, q->tail, 0, 0};
    if (q->tail != NULL) {
        st.tail_len = q->tail->len;
        st.tail_used = q->tail->chunk->used;
    }
    return st;
}

static void assert_queue_unchanged(const ne_outq *q, queue_state before)
{
    queue_state now = queue_state_of(q);
    assert_int_equal(now.bytes, before.bytes);
    assert_int_equal(now.chunks, before.chunks);
    assert_int_equal(now.refs, before.refs);
    assert_ptr_equal(now.tail, before.tail);
    assert_int_equal(now.tail_len, before.tail_len);
    assert_int_equal(now.tail_used, before.tail_used);
}

/* Issue 13 item 5: an append that does not fit takes nothing. A copy, a
 * shared reference and a whole message (line plus payload) each leave the
 * queue exactly as it was when the chunks or references run out, so a
 * queue never ends in part of a message. */
static void test_append_is_all_or_nothing_when_the_pools_run_out(void **state)
{
    (void)state;
    ne_outq q = {0};
    static uint8_t big[NE_CHUNK_BYTES * 3];
    memset(big, 'x', sizeof(big));
    /* Part of a chunk in the queue, room left in its tail. */
    assert_int_equal(ne_outq_append(&q, &pools, big, 100), NE_OK);
    /* Every chunk but two taken by a chain a shared append can reference. */
    ne_chunk *chain = NULL;
    for (int i = 0; i < TEST_CHUNKS - 3; i++) {
        ne_chunk *c = ne_chunk_alloc(&pools);
        assert_non_null(c);
        c->used = NE_CHUNK_BYTES;
        c->next = chain;
        chain = c;
    }
    assert_int_equal(ne_chunk_available(&pools), 2);
    /* A copy needing three more chunks: refused, nothing queued. */
    queue_state before = queue_state_of(&q);
    uint32_t exhausted = pools.chunks.exhausted;
    assert_int_equal(ne_outq_append(&q, &pools, big, NE_CHUNK_BYTES * 3), NE_ERR_NOMEM);
    assert_queue_unchanged(&q, before);
    assert_int_equal(pools.chunks.exhausted, exhausted + 1);
    /* A line and a copied payload that together need three chunks. */
    assert_int_equal(
        ne_outq_append_message(&q, &pools, "MSG x 1 2\r\n", 11, big, NULL, 0, sizeof(big)),
        NE_ERR_NOMEM);
    assert_queue_unchanged(&q, before);
    /* A line and a shared payload when the references run out: the chain
     * spans TEST_CHUNKS - 3 chunks, more references than are left. */
    ne_outref *held[TEST_REFS];
    uint32_t nheld = 0;
    while (ne_pool_available(&pools.refs) > TEST_CHUNKS - 4) {
        held[nheld++] = ne_pool_alloc(&pools.refs);
    }
    before = queue_state_of(&q);
    assert_int_equal(ne_outq_append_message(&q, &pools, "MSG x 1 2\r\n", 11, NULL, chain, 0,
                                            (size_t)NE_CHUNK_BYTES * (TEST_CHUNKS - 3)),
                     NE_ERR_NOMEM);
    assert_queue_unchanged(&q, before);
    assert_int_equal(
        ne_outq_append_shared(&q, &pools, chain, 0, (size_t)NE_CHUNK_BYTES * (TEST_CHUNKS - 3)),
        NE_ERR_NOMEM);
    assert_queue_unchanged(&q, before);
    for (uint32_t i = 0; i < nheld; i++) {
        ne_pool_free(&pools.refs, held[i]);
    }
    /* With the references back, the same message goes in whole. */
    assert_int_equal(ne_outq_append_message(&q, &pools, "MSG x 1 2\r\n", 11, NULL, chain, 0,
                                            (size_t)NE_CHUNK_BYTES * (TEST_CHUNKS - 3)),
                     NE_OK);
    assert_int_equal(q.bytes, 100 + 11 + (uint64_t)NE_CHUNK_BYTES * (TEST_CHUNKS - 3));
    ne_chunk_chain_release(&pools, chain);
    ne_outq_clear(&q, &pools);
}

/* Promised chunks are kept from every other allocation until taken one by
 * one or given back; a promise larger than what is free and unpromised is
 * refused whole. */
static void test_promised_chunks_are_kept_for_their_taker(void **state)
{
    (void)state;
    assert_true(ne_chunk_promise(&pools, TEST_CHUNKS - 2));
    assert_false(ne_chunk_promise(&pools, 3));
    assert_int_equal(ne_chunk_available(&pools), 2);
    ne_chunk *a = ne_chunk_alloc(&pools);
    ne_chunk *b = ne_chunk_alloc(&pools);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(ne_chunk_alloc(&pools));
    ne_outq q = {0};
    assert_int_equal(ne_outq_append(&q, &pools, "x", 1), NE_ERR_NOMEM);
    /* The taker gets its chunks although none is available to others. */
    ne_chunk *p1 = ne_chunk_alloc_promised(&pools);
    ne_chunk *p2 = ne_chunk_alloc_promised(&pools);
    assert_non_null(p1);
    assert_non_null(p2);
    assert_int_equal(pools.promised, TEST_CHUNKS - 4);
    ne_chunk_unpromise(&pools, TEST_CHUNKS - 4);
    assert_int_equal(ne_chunk_available(&pools), TEST_CHUNKS - 4);
    ne_chunk_release(&pools, a);
    ne_chunk_release(&pools, b);
    ne_chunk_release(&pools, p1);
    ne_chunk_release(&pools, p2);
}

/* The lines between references to shared payloads go into the room at the
 * end of the payload's chunk, or of the chunk the queue last copied into,
 * through references of their own: no chunk per line, and every queue's
 * bytes come out in order. */
static void test_lines_between_shared_payloads_share_chunks(void **state)
{
    (void)state;
    ne_chunk *small = ne_chunk_alloc(&pools); /* a payload with room after it */
    memcpy(small->data, "p1\r\n", 4);
    small->used = 4;
    ne_chunk *full = ne_chunk_alloc(&pools); /* a payload filling its chunk */
    memset(full->data, 'f', NE_CHUNK_BYTES);
    full->used = NE_CHUNK_BYTES;
    ne_outq a = {0}, b = {0};
    uint32_t chunks = pools.chunks.in_use;
    for (int i = 0; i < 3; i++) {
        ne_outq *q = i == 1 ? &b : &a;
        assert_int_equal(ne_outq_append_message(q, &pools, "L1 ", 3, NULL, small, 0, 4), NE_OK);
        assert_int_equal(ne_outq_append_message(q, &pools, "L2 ", 3, NULL, full, 0, 10), NE_OK);
        assert_int_equal(ne_outq_append(q, &pools, "end\r\n", 5), NE_OK);
    }
    /* Queue a's and b's first lines took a chunk each; every other line
     * went into room that was there. */
    assert_int_equal(pools.chunks.in_use, chunks + 2);
    ne_chunk_release(&pools, small);
    ne_chunk_release(&pools, full);
    static uint8_t out[256];
    const char *one = "L1 p1\r\nL2 ffffffffffend\r\n";
    size_t n = drain(&a, out, sizeof(out), 5);
    assert_int_equal(n, 2 * strlen(one));
    assert_memory_equal(out, one, strlen(one));
    assert_memory_equal(out + strlen(one), one, strlen(one));
    assert_int_equal(drain(&b, out, sizeof(out), 100), strlen(one));
    assert_memory_equal(out, one, strlen(one));
}

/* ne_zero_lazy zeroes every byte of any span, aligned or not, and leaves the
 * bytes around it alone. */
static void test_zero_lazy_clears_exactly_the_span(void **state)
{
    (void)state;
    uint8_t buf[64];
    for (size_t start = 0; start < 9; start++) {
        for (size_t len = 0; len < 40; len++) {
            for (size_t i = 0; i < sizeof(buf); i++) {
                buf[i] = (uint8_t)(i % 3 == 0 ? 0 : 0xA5 ^ i);
            }
            ne_zero_lazy(buf + start, len);
            for (size_t i = 0; i < sizeof(buf); i++) {
                uint8_t want =
                    (i >= start && i < start + len) ? 0 : (uint8_t)(i % 3 == 0 ? 0 : 0xA5 ^ i);
                assert_int_equal(buf[i], want);
            }
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pool_hands_out_every_slot_then_counts_exhaustion,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_appends_share_one_chunk, setup, teardown),
        cmocka_unit_test(test_zero_lazy_clears_exactly_the_span),
        cmocka_unit_test_setup_teardown(test_shared_payload_is_referenced_not_copied, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shared_range_spans_a_chain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_reports_exhaustion_and_clear_returns_everything,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_append_is_all_or_nothing_when_the_pools_run_out, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_promised_chunks_are_kept_for_their_taker, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lines_between_shared_payloads_share_chunks, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("chunk", tests, NULL, NULL);
}
