/* Unit tests of the kinds of log built on the device's logs: consumer state
 * (src/store/ne_store_consumer.h, nats-server's ConsumerStore rules), RAFT
 * logs (ne_store_raft.h) and small keyed records (ne_store_kv.h): their
 * operations, recovery by reopening the device, and power cuts behind a
 * write cache that reorders. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "sim/ne_sim_flash.h"
#include "store/ne_store_consumer.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_format.h"
#include "store/ne_store_kv.h"
#include "store/ne_store_raft.h"

#define BLOCKS 24
#define ERASE_BYTES 8192
#define PENDING 64

static ne_store_dev dev;
static ne_sim_flash sim;
static uint8_t image[BLOCKS * ERASE_BYTES];
static uint32_t erase_counts[BLOCKS];
static uint8_t programmed[NE_SIM_FLASH_PROGRAMMED_BYTES(BLOCKS, ERASE_BYTES, 16)];
static uint8_t durable[BLOCKS * ERASE_BYTES];
static uint8_t dirty[NE_SIM_FLASH_DIRTY_BYTES(BLOCKS, ERASE_BYTES, 16)];
static uint8_t saved[BLOCKS * ERASE_BYTES];
static uint32_t saved_counts[BLOCKS];
static ne_snappy_table table;
static uint8_t buf[8192];

static ne_store_consumer consumer;
static ne_store_pending pending[PENDING];
static uint8_t snapshot[NE_STORE_CONSUMER_SNAPSHOT_BYTES(PENDING)];
static ne_store_raft raft;
static ne_store_kv kv;
static ne_store_subject keys[64];
static char key_text[2048];
static uint32_t log_id;

static const ne_flash_geometry geometry = {
    .program_bytes = 16, .erase_bytes = ERASE_BYTES, .block_count = BLOCKS};

static int setup(void **state)
{
    (void)state;
    ne_sim_flash_init(&sim, geometry, image, erase_counts, programmed, 11);
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(sim.violations, 0);
    ne_sim_flash_use_cache(&sim, NULL, NULL, 0, 0, 0);
    return 0;
}

static void reopen(void)
{
    assert_int_equal(ne_store_dev_open(&dev, &sim.flash, &table), NE_OK);
}

static void save_image(void)
{
    memcpy(saved, image, sizeof(saved));
    memcpy(saved_counts, erase_counts, sizeof(saved_counts));
}

static void restore_image(uint64_t seed)
{
    memcpy(image, saved, sizeof(saved));
    memcpy(erase_counts, saved_counts, sizeof(saved_counts));
    memset(programmed, 0, sizeof(programmed));
    ne_sim_flash_power_on(&sim);
    sim.rng = seed;
    ne_sim_flash_use_cache(&sim, durable, dirty, 16, 0, 0);
}

/* ---- Consumer state ------------------------------------------------------ */

static void create_consumer(ne_store_ack_policy policy)
{
    assert_int_equal(
        ne_store_dev_create(&dev, NE_STORE_KIND_CONSUMER, 0, "durable", 7, NULL, 0, &log_id),
        NE_OK);
    (void)policy;
}

static void attach_consumer(ne_store_ack_policy policy)
{
    ne_store_consumer_config cfg = {.ack_policy = policy,
                                    .pending = pending,
                                    .pending_capacity = PENDING,
                                    .snapshot_buf = snapshot,
                                    .snapshot_bytes = sizeof(snapshot)};
    assert_int_equal(ne_store_consumer_attach(&consumer, &dev, log_id, &cfg), NE_OK);
}

static void expect_pair(ne_store_seq_pair p, uint64_t consumer_seq, uint64_t stream_seq)
{
    assert_int_equal(p.consumer_seq, consumer_seq);
    assert_int_equal(p.stream_seq, stream_seq);
}

static void test_consumer_ack_floor_follows_nats_server(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    /* Deliveries 1..5 of stream 10, 12, 13, 15, 16. */
    static const uint64_t sseq[] = {10, 12, 13, 15, 16};
    for (uint64_t d = 1; d <= 5; d++) {
        assert_int_equal(ne_store_consumer_delivered(&consumer, d, sseq[d - 1], 1, 1000 + d),
                         NE_OK);
    }
    expect_pair(consumer.delivered, 5, 16);
    expect_pair(consumer.ack_floor, 0, 0);
    assert_int_equal(consumer.pending_count, 5);
    /* Acking the third leaves the floor where it is. */
    assert_int_equal(ne_store_consumer_ack(&consumer, 3, 13), NE_OK);
    expect_pair(consumer.ack_floor, 0, 0);
    /* The first moves it to itself (the first ack: no gap closing). */
    assert_int_equal(ne_store_consumer_ack(&consumer, 1, 10), NE_OK);
    expect_pair(consumer.ack_floor, 1, 10);
    /* The second moves it, then past the gap to before the next pending. */
    assert_int_equal(ne_store_consumer_ack(&consumer, 2, 12), NE_OK);
    expect_pair(consumer.ack_floor, 3, 14);
    /* A double ack is not found. */
    assert_int_equal(ne_store_consumer_ack(&consumer, 2, 12), NE_ERR_NOT_FOUND);
    /* A redelivery updates the entry. */
    assert_int_equal(ne_store_consumer_delivered(&consumer, 6, 15, 2, 5000), NE_OK);
    const ne_store_pending *p = ne_store_consumer_find(&consumer, 15);
    assert_non_null(p);
    assert_int_equal(p->consumer_seq, 4);
    assert_int_equal(p->deliveries, 2);
    assert_int_equal(p->timestamp_ns, 5000);
    expect_pair(consumer.delivered, 5, 16);
    /* Acking the rest: nothing pending, the floor is delivered. */
    assert_int_equal(ne_store_consumer_ack(&consumer, 5, 16), NE_OK);
    assert_int_equal(ne_store_consumer_ack(&consumer, 4, 15), NE_OK);
    assert_int_equal(consumer.pending_count, 0);
    expect_pair(consumer.ack_floor, 5, 16);
}

static void test_consumer_state_survives_reopen(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    assert_int_equal(ne_store_consumer_set_starting(&consumer, 99), NE_OK);
    for (uint64_t d = 1; d <= 40; d++) {
        assert_int_equal(ne_store_consumer_delivered(&consumer, d, 99 + d, 1, d), NE_OK);
    }
    for (uint64_t d = 1; d <= 40; d += 2) {
        assert_int_equal(ne_store_consumer_ack(&consumer, d, 99 + d), NE_OK);
    }
    /* A redelivery of a pending message (delivery 2, stream 101). */
    assert_int_equal(ne_store_consumer_delivered(&consumer, 41, 101, 3, 777), NE_OK);
    assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
    ne_store_seq_pair delivered = consumer.delivered;
    ne_store_seq_pair floor = consumer.ack_floor;
    uint32_t count = consumer.pending_count;
    reopen();
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    expect_pair(consumer.delivered, delivered.consumer_seq, delivered.stream_seq);
    expect_pair(consumer.ack_floor, floor.consumer_seq, floor.stream_seq);
    assert_int_equal(consumer.pending_count, count);
    const ne_store_pending *p = ne_store_consumer_find(&consumer, 101);
    assert_non_null(p);
    assert_int_equal(p->consumer_seq, 2);
    assert_int_equal(p->deliveries, 3);
    assert_int_equal(p->timestamp_ns, 777);
    assert_null(ne_store_consumer_find(&consumer, 102));
}

/* Many changes: snapshots keep the log short, and the state survives. */
static void test_consumer_snapshots_keep_the_log_short(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    uint64_t d = 0;
    for (uint64_t s = 1; s <= 5000; s++) {
        d++;
        assert_int_equal(ne_store_consumer_delivered(&consumer, d, s, 1, s), NE_OK);
        if (s > 10) {
            assert_int_equal(ne_store_consumer_ack(&consumer, d - 10, s - 10), NE_OK);
        }
        if (s % 16 == 0) {
            assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
        }
    }
    assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
    assert_true(consumer.log.state.msgs < 200);
    assert_int_equal(consumer.pending_count, 10);
    reopen();
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    assert_int_equal(consumer.pending_count, 10);
    expect_pair(consumer.delivered, 5000, 5000);
    expect_pair(consumer.ack_floor, 4990, 4990);
    /* Compaction then gives back every block but a few. */
    assert_int_equal(ne_store_compact(&consumer.log, NULL), NE_OK);
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&dev, &st);
    assert_true(st.blocks_data <= 4);
}

static void test_consumer_ack_none_and_ack_all(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_NONE);
    attach_consumer(NE_STORE_ACK_NONE);
    assert_int_equal(ne_store_consumer_delivered(&consumer, 1, 5, 1, 1), NE_OK);
    expect_pair(consumer.ack_floor, 1, 5);
    assert_int_equal(consumer.pending_count, 0);
    assert_int_equal(ne_store_consumer_delivered(&consumer, 2, 5, 2, 1), NE_ERR_INVALID);
    assert_int_equal(ne_store_consumer_ack(&consumer, 1, 5), NE_ERR_INVALID);
    assert_int_equal(ne_store_consumer_detach(&consumer), NE_OK);
    uint32_t all_id;
    assert_int_equal(
        ne_store_dev_create(&dev, NE_STORE_KIND_CONSUMER, 0, "all", 3, NULL, 0, &all_id), NE_OK);
    log_id = all_id;
    attach_consumer(NE_STORE_ACK_ALL);
    for (uint64_t d = 1; d <= 6; d++) {
        assert_int_equal(ne_store_consumer_delivered(&consumer, d, d * 2, 1, d), NE_OK);
    }
    assert_int_equal(ne_store_consumer_ack(&consumer, 4, 8), NE_OK);
    assert_int_equal(consumer.pending_count, 2);
    expect_pair(consumer.ack_floor, 4, 8);
    assert_int_equal(ne_store_consumer_ack(&consumer, 2, 4), NE_ERR_NOT_FOUND);
    assert_int_equal(ne_store_consumer_ack(&consumer, 6, 12), NE_OK);
    expect_pair(consumer.ack_floor, 6, 12);
    assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
    reopen();
    attach_consumer(NE_STORE_ACK_ALL);
    assert_int_equal(consumer.pending_count, 0);
    expect_pair(consumer.ack_floor, 6, 12);
}

static void test_consumer_pending_is_bounded_by_max_ack_pending(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    for (uint64_t d = 1; d <= PENDING; d++) {
        assert_int_equal(ne_store_consumer_delivered(&consumer, d, d, 1, d), NE_OK);
    }
    assert_int_equal(ne_store_consumer_delivered(&consumer, PENDING + 1, PENDING + 1, 1, 1),
                     NE_ERR_FULL);
    /* A redelivery of a pending one still goes. */
    assert_int_equal(ne_store_consumer_delivered(&consumer, PENDING + 1, 3, 2, 9), NE_OK);
    assert_int_equal(ne_store_consumer_ack(&consumer, 1, 1), NE_OK);
    assert_int_equal(ne_store_consumer_delivered(&consumer, PENDING + 1, PENDING + 1, 1, 1), NE_OK);
    /* Attaching with a smaller capacity than what the log holds is refused. */
    assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
    reopen();
    ne_store_consumer_config small = {.ack_policy = NE_STORE_ACK_EXPLICIT,
                                      .pending = pending,
                                      .pending_capacity = 8,
                                      .snapshot_buf = snapshot,
                                      .snapshot_bytes = sizeof(snapshot)};
    assert_int_equal(ne_store_consumer_attach(&consumer, &dev, log_id, &small), NE_ERR_FULL);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    assert_int_equal(consumer.pending_count, PENDING);
}

static void test_consumer_update_replaces_the_state(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    assert_int_equal(ne_store_consumer_delivered(&consumer, 1, 1, 1, 1), NE_OK);
    ne_store_pending in[2] = {
        {.stream_seq = 30, .consumer_seq = 7, .timestamp_ns = 1, .deliveries = 1},
        {.stream_seq = 25, .consumer_seq = 5, .timestamp_ns = 2, .deliveries = 4}};
    ne_store_seq_pair delivered = {.consumer_seq = 8, .stream_seq = 31};
    ne_store_seq_pair floor = {.consumer_seq = 4, .stream_seq = 20};
    assert_int_equal(ne_store_consumer_update(&consumer, floor, delivered, in, 2), NE_ERR_INVALID);
    ne_store_pending bad = {.stream_seq = 40, .consumer_seq = 9};
    assert_int_equal(ne_store_consumer_update(&consumer, delivered, floor, &bad, 1),
                     NE_ERR_INVALID);
    assert_int_equal(ne_store_consumer_update(&consumer, delivered, floor, in, 2), NE_OK);
    assert_int_equal(consumer.pending_count, 2);
    assert_int_equal(consumer.pending[0].stream_seq, 25);
    assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
    reopen();
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    expect_pair(consumer.delivered, 8, 31);
    expect_pair(consumer.ack_floor, 4, 20);
    assert_int_equal(ne_store_consumer_find(&consumer, 25)->deliveries, 4);
    assert_null(ne_store_consumer_find(&consumer, 1));
}

/* An ack that was synced is never lost (never redelivered after a cut);
 * one not synced may be. Cuts at every operation of an ack and its sync,
 * behind a write cache. */
static void test_consumer_synced_ack_survives_any_cut(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    for (uint64_t d = 1; d <= 20; d++) {
        assert_int_equal(ne_store_consumer_delivered(&consumer, d, d, 1, d), NE_OK);
    }
    assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
    assert_int_equal(ne_store_consumer_detach(&consumer), NE_OK);
    save_image();
    bool saw_acked = false;
    bool saw_pending = false;
    for (uint64_t seed = 1; seed <= 16; seed++) {
        for (uint64_t cut = 1; cut < 30; cut++) {
            restore_image(seed * 17 + cut);
            reopen();
            attach_consumer(NE_STORE_ACK_EXPLICIT);
            ne_sim_flash_cut_after(&sim, cut);
            int rc = ne_store_consumer_ack(&consumer, 5, 5);
            bool synced = false;
            if (rc == NE_OK) {
                rc = ne_store_consumer_sync(&consumer);
                synced = rc == NE_OK;
            }
            if (synced) {
                sim.cut_at = 0;
                /* Acknowledged durable: a reopen never shows it pending. */
                reopen();
                attach_consumer(NE_STORE_ACK_EXPLICIT);
                assert_null(ne_store_consumer_find(&consumer, 5));
                break;
            }
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            ne_sim_flash_power_on(&sim);
            reopen();
            attach_consumer(NE_STORE_ACK_EXPLICIT);
            bool pending_again = ne_store_consumer_find(&consumer, 5) != NULL;
            saw_pending = saw_pending || pending_again;
            saw_acked = saw_acked || !pending_again;
            assert_int_equal(consumer.pending_count, pending_again ? 20 : 19);
        }
    }
    assert_true(saw_pending);
    assert_true(saw_acked);
}

static void attach_kv(void);

/* Changes not synced that reached the medium and were then damaged in the
 * middle (a line torn behind a write cache, which keeps later lines): the
 * damaged records are skipped, so later changes come back without earlier
 * ones (an ack lost, the next delivery kept). The consumer replays only up
 * to the damage and cuts its log back there: the state that comes back is
 * one it held at some point, and what is written and synced afterwards
 * survives the next reopen. */
static void test_consumer_state_after_damage_is_a_past_state(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    uint32_t consumer_id = log_id;
    uint32_t other_id = 0;
    assert_int_equal(ne_store_dev_create(&dev, NE_STORE_KIND_KV, 0, "other", 5, NULL, 0, &other_id),
                     NE_OK);
    log_id = consumer_id;
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    for (uint64_t d = 1; d <= 10; d++) {
        assert_int_equal(ne_store_consumer_delivered(&consumer, d, d, 1, d), NE_OK);
    }
    assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
    ne_store_slot *slot = consumer.log.impl;
    int32_t head = slot->head;
    assert_true(head >= 0);
    uint32_t from = dev.blocks[head].write_off;
    log_id = other_id;
    attach_kv();
    log_id = consumer_id;
    /* Step k acks k and delivers 10 + k; another log's writes every few
     * steps make the consumer's records reach the medium in several frames
     * (the write buffer is shared). */
    for (uint64_t k = 1; k <= 40; k++) {
        assert_int_equal(ne_store_consumer_ack(&consumer, k, k), NE_OK);
        assert_int_equal(ne_store_consumer_delivered(&consumer, 10 + k, 10 + k, 1, k), NE_OK);
        if (k % 3 == 0) {
            assert_int_equal(ne_store_kv_put(&kv, "k", 1, &k, sizeof(k)), NE_OK);
        }
    }
    assert_int_equal(ne_store_kv_put(&kv, "k", 1, "end", 3), NE_OK);
    assert_int_equal(slot->head, head);
    uint32_t to = dev.blocks[head].write_off;
    assert_true(to > from + 64);
    save_image();
    bool saw_partial = false;
    for (uint32_t cut = 1; cut < 8; cut++) {
        memcpy(image, saved, sizeof(saved));
        memcpy(erase_counts, saved_counts, sizeof(saved_counts));
        uint32_t at = from + (to - from) * cut / 8;
        ne_sim_flash_tear(&sim, (uint32_t)head * ERASE_BYTES + at, 8);
        reopen();
        attach_consumer(NE_STORE_ACK_EXPLICIT);
        /* Acks 1..a and deliveries up to 10 + d, with a == d or a == d + 1
         * (step k writes its ack first). */
        uint64_t delivered = consumer.delivered.stream_seq;
        assert_true(delivered >= 10 && delivered <= 50);
        uint64_t d = delivered - 10;
        uint64_t acked = 0;
        while (acked < 50 && ne_store_consumer_find(&consumer, acked + 1) == NULL) {
            acked++;
        }
        for (uint64_t q = 1; q <= 60; q++) {
            bool is_pending = ne_store_consumer_find(&consumer, q) != NULL;
            assert_true(is_pending == (q > acked && q <= delivered));
        }
        assert_true(acked == d || acked == d + 1);
        saw_partial = saw_partial || (d > 0 && d < 40);
        /* Goes on from there, durably. */
        assert_int_equal(ne_store_consumer_delivered(&consumer, 100, 70, 1, 100), NE_OK);
        assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
        reopen();
        attach_consumer(NE_STORE_ACK_EXPLICIT);
        assert_non_null(ne_store_consumer_find(&consumer, 70));
        assert_int_equal(consumer.delivered.stream_seq, 70);
    }
    assert_true(saw_partial);
}

/* ---- Consumer changes in one record (ne_store_consumer_changes) ---------- */

static ne_store_consumer single;
static ne_store_pending single_pending[PENDING];
static ne_store_change batch[PENDING];

typedef struct consumer_image {
    ne_store_seq_pair delivered;
    ne_store_seq_pair ack_floor;
    uint32_t count;
    ne_store_pending pending[PENDING];
} consumer_image;

static consumer_image images[64];

static void take_image(const ne_store_consumer *c, consumer_image *out)
{
    memset(out, 0, sizeof(*out));
    out->delivered = c->delivered;
    out->ack_floor = c->ack_floor;
    out->count = c->pending_count;
    memcpy(out->pending, c->pending, c->pending_count * sizeof(c->pending[0]));
}

static bool same_image(const ne_store_consumer *c, const consumer_image *img)
{
    if (c->pending_count != img->count ||
        c->delivered.consumer_seq != img->delivered.consumer_seq ||
        c->delivered.stream_seq != img->delivered.stream_seq ||
        c->ack_floor.consumer_seq != img->ack_floor.consumer_seq ||
        c->ack_floor.stream_seq != img->ack_floor.stream_seq) {
        return false;
    }
    for (uint32_t i = 0; i < img->count; i++) {
        const ne_store_pending *a = &c->pending[i];
        const ne_store_pending *b = &img->pending[i];
        if (a->stream_seq != b->stream_seq || a->consumer_seq != b->consumer_seq ||
            a->deliveries != b->deliveries || a->timestamp_ns != b->timestamp_ns) {
            return false;
        }
    }
    return true;
}

static void attach_other(ne_store_consumer *c, ne_store_pending *p, uint32_t id)
{
    ne_store_consumer_config cfg = {.ack_policy = NE_STORE_ACK_EXPLICIT,
                                    .pending = p,
                                    .pending_capacity = PENDING,
                                    .snapshot_buf = snapshot,
                                    .snapshot_bytes = sizeof(snapshot)};
    assert_int_equal(ne_store_consumer_attach(c, &dev, id, &cfg), NE_OK);
}

/* A batch of step k (a JetStream turn): some pending entries acked (the
 * oldest, often; any, sometimes), a redelivery now and then, new
 * deliveries. Acks first, then deliveries, each in stream order. */
static uint32_t make_batch(const ne_store_consumer *c, uint64_t *next_seq, uint64_t k)
{
    uint64_t r = k * 0x9e3779b97f4a7c15ull;
    uint32_t n = 0;
    for (uint32_t i = 0; i < c->pending_count && n < 6; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        bool ack = i < (uint32_t)(r >> 62) || ((r >> 40) & 7u) == 0;
        if (ack) {
            batch[n++] = (ne_store_change){.kind = NE_STORE_CHANGE_ACK,
                                           .consumer_seq = c->pending[i].consumer_seq,
                                           .stream_seq = c->pending[i].stream_seq};
        }
    }
    uint32_t acks = n;
    r = r * 6364136223846793005ull + 1442695040888963407ull;
    if (((r >> 33) & 3u) == 0 && c->pending_count > acks) {
        /* A redelivery of the newest entry, when it was not acked. */
        const ne_store_pending *p = &c->pending[c->pending_count - 1];
        bool acked = acks > 0 && batch[acks - 1].stream_seq == p->stream_seq;
        if (!acked && *next_seq > p->stream_seq) {
            batch[n++] = (ne_store_change){.kind = NE_STORE_CHANGE_DELIVERED,
                                           .deliveries = p->deliveries + 1,
                                           .consumer_seq = p->consumer_seq,
                                           .stream_seq = p->stream_seq,
                                           .timestamp_ns = 1000 + k};
        }
    }
    uint32_t fresh = 1 + (uint32_t)((r >> 50) & 3u);
    for (uint32_t i = 0; i < fresh && c->pending_count - acks + i + 1 < PENDING; i++) {
        uint64_t seq = (*next_seq)++;
        batch[n++] = (ne_store_change){.kind = NE_STORE_CHANGE_DELIVERED,
                                       .deliveries = 1,
                                       .consumer_seq = seq,
                                       .stream_seq = seq,
                                       .timestamp_ns = seq};
    }
    return n;
}

/* A batch of changes in one record leaves the state the same changes leave
 * one by one (ne_store_consumer_ack and _delivered in the same order), the
 * ack floor's steps included, and replaying the log after a reattach gives
 * that state again, across the snapshots the store writes on its own. */
static void test_consumer_batch_of_changes_applies_as_single_changes(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    uint32_t batch_id = log_id;
    uint32_t single_id = 0;
    assert_int_equal(
        ne_store_dev_create(&dev, NE_STORE_KIND_CONSUMER, 0, "single", 6, NULL, 0, &single_id),
        NE_OK);
    attach_other(&consumer, pending, batch_id);
    attach_other(&single, single_pending, single_id);
    uint64_t next_seq = 1;
    bool saw_snapshot = false;
    bool saw_floor_jump = false;
    for (uint64_t k = 1; k <= 300; k++) {
        uint32_t n = make_batch(&consumer, &next_seq, k);
        uint64_t floor_before = consumer.ack_floor.stream_seq;
        assert_int_equal(ne_store_consumer_changes(&consumer, batch, n), NE_OK);
        for (uint32_t i = 0; i < n; i++) {
            const ne_store_change *ch = &batch[i];
            int rc = ch->kind == NE_STORE_CHANGE_ACK
                         ? ne_store_consumer_ack(&single, ch->consumer_seq, ch->stream_seq)
                         : ne_store_consumer_delivered(&single, ch->consumer_seq, ch->stream_seq,
                                                       ch->deliveries, ch->timestamp_ns);
            assert_int_equal(rc, NE_OK);
        }
        take_image(&single, &images[0]);
        if (!same_image(&consumer, &images[0])) {
            fail_msg("step %llu: the batch state differs from the single changes' state",
                     (unsigned long long)k);
        }
        saw_snapshot = saw_snapshot || consumer.snapshot_seq != 0;
        saw_floor_jump = saw_floor_jump || consumer.ack_floor.stream_seq > floor_before + 1;
        if (k % 7 == 0) {
            assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
            assert_int_equal(ne_store_consumer_detach(&consumer), NE_OK);
            attach_other(&consumer, pending, batch_id);
            assert_true(same_image(&consumer, &images[0]));
        }
    }
    assert_true(saw_snapshot);
    assert_true(saw_floor_jump);
    assert_true(consumer.log.state.msgs < 300);
    assert_int_equal(ne_store_consumer_detach(&single), NE_OK);
}

/* A batch that does not apply is refused and nothing is written: an ack of
 * what is not pending, acks out of order, an ack after a delivery, a
 * delivery of what the batch acked, more pending than the capacity. */
static void test_consumer_batch_that_does_not_apply_is_refused(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    for (uint64_t d = 1; d <= 4; d++) {
        assert_int_equal(ne_store_consumer_delivered(&consumer, d, d, 1, d), NE_OK);
    }
    uint64_t records = consumer.log.state.msgs;
    ne_store_change ack9 = {.kind = NE_STORE_CHANGE_ACK, .consumer_seq = 9, .stream_seq = 9};
    assert_int_equal(ne_store_consumer_changes(&consumer, &ack9, 1), NE_ERR_INVALID);
    ne_store_change backwards[2] = {
        {.kind = NE_STORE_CHANGE_ACK, .consumer_seq = 3, .stream_seq = 3},
        {.kind = NE_STORE_CHANGE_ACK, .consumer_seq = 2, .stream_seq = 2}};
    assert_int_equal(ne_store_consumer_changes(&consumer, backwards, 2), NE_ERR_INVALID);
    ne_store_change late_ack[2] = {
        {.kind = NE_STORE_CHANGE_DELIVERED, .deliveries = 1, .consumer_seq = 5, .stream_seq = 5},
        {.kind = NE_STORE_CHANGE_ACK, .consumer_seq = 1, .stream_seq = 1}};
    assert_int_equal(ne_store_consumer_changes(&consumer, late_ack, 2), NE_ERR_INVALID);
    ne_store_change again[2] = {
        {.kind = NE_STORE_CHANGE_ACK, .consumer_seq = 2, .stream_seq = 2},
        {.kind = NE_STORE_CHANGE_DELIVERED, .deliveries = 2, .consumer_seq = 2, .stream_seq = 2}};
    assert_int_equal(ne_store_consumer_changes(&consumer, again, 2), NE_ERR_INVALID);
    for (uint32_t i = 0; i < PENDING; i++) {
        batch[i] = (ne_store_change){.kind = NE_STORE_CHANGE_DELIVERED,
                                     .deliveries = 1,
                                     .consumer_seq = 10 + i,
                                     .stream_seq = 10 + i};
    }
    assert_int_equal(ne_store_consumer_changes(&consumer, batch, PENDING), NE_ERR_INVALID);
    assert_int_equal(ne_store_consumer_changes(&consumer, batch, PENDING + 1), NE_ERR_TOO_BIG);
    assert_int_equal(consumer.log.state.msgs, records);
    assert_int_equal(consumer.pending_count, 4);
}

/* Power cuts at every device operation of a run of batches, some synced,
 * behind a write cache that loses what was not synced in any order: the
 * state that comes back is one the consumer held after some batch, never
 * one before the last synced batch (an ack whose sync returned is never
 * lost) and never one after the last batch begun (no ack is invented). */
static void test_consumer_batches_cut_after_any_write_recover_a_past_state(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    uint64_t next_seq = 1;
    for (; next_seq <= 20; next_seq++) {
        assert_int_equal(ne_store_consumer_delivered(&consumer, next_seq, next_seq, 1, next_seq),
                         NE_OK);
    }
    assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
    assert_int_equal(ne_store_consumer_detach(&consumer), NE_OK);
    save_image();
    enum { STEPS = 40 };
    bool saw_unsynced_kept = false;
    bool saw_unsynced_lost = false;
    uint64_t cuts_done = 0;
    for (uint64_t seed = 1; seed <= 6; seed++) {
        for (uint64_t cut = 1; cut < 400; cut++) {
            restore_image(seed * 1000 + cut);
            reopen();
            attach_consumer(NE_STORE_ACK_EXPLICIT);
            take_image(&consumer, &images[0]);
            uint64_t seq = next_seq;
            uint32_t synced = 0;
            uint32_t begun = 0;
            ne_sim_flash_cut_after(&sim, cut);
            int rc = NE_OK;
            for (uint32_t k = 1; k <= STEPS && rc == NE_OK; k++) {
                uint32_t n = make_batch(&consumer, &seq, k + seed * 100);
                begun = k;
                rc = ne_store_consumer_changes(&consumer, batch, n);
                if (rc == NE_OK) {
                    take_image(&consumer, &images[k]);
                    if (k % 3 == 0) {
                        rc = ne_store_consumer_sync(&consumer);
                        synced = rc == NE_OK ? k : synced;
                    }
                }
            }
            if (rc == NE_OK) {
                break; /* the run ended before the cut: every later cut too */
            }
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            cuts_done++;
            ne_sim_flash_power_on(&sim);
            reopen();
            attach_consumer(NE_STORE_ACK_EXPLICIT);
            uint32_t found = UINT32_MAX;
            for (uint32_t k = synced; k <= begun && found == UINT32_MAX; k++) {
                if (same_image(&consumer, &images[k])) {
                    found = k;
                }
            }
            if (found == UINT32_MAX) {
                fail_msg("seed %llu cut %llu: the state after the cut is none held after batch "
                         "%u (synced) to %u (begun)",
                         (unsigned long long)seed, (unsigned long long)cut, synced, begun);
            }
            saw_unsynced_kept = saw_unsynced_kept || found > synced;
            saw_unsynced_lost = saw_unsynced_lost || found < begun - 1;
            /* Goes on from there, durably. */
            assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
        }
    }
    assert_true(cuts_done > 100);
    assert_true(saw_unsynced_kept);
    assert_true(saw_unsynced_lost);
}

/* ---- RAFT ------------------------------------------------------------------ */

static void create_raft(void)
{
    assert_int_equal(
        ne_store_dev_create(&dev, NE_STORE_KIND_RAFT, 0, "meta-group", 10, NULL, 0, &log_id),
        NE_OK);
    assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
}

static void append_entry(uint64_t index, uint64_t term)
{
    char e[32];
    int n = snprintf(e, sizeof(e), "entry %llu term %llu", (unsigned long long)index,
                     (unsigned long long)term);
    assert_int_equal(ne_store_raft_append(&raft, index, term, e, (size_t)n), NE_OK);
}

static void expect_entry(uint64_t index, uint64_t term)
{
    char want[32];
    int n = snprintf(want, sizeof(want), "entry %llu term %llu", (unsigned long long)index,
                     (unsigned long long)term);
    uint64_t got_term = 0;
    size_t len = 0;
    assert_int_equal(ne_store_raft_entry(&raft, index, &got_term, buf, sizeof(buf), &len), NE_OK);
    assert_int_equal(got_term, term);
    assert_int_equal(len, (size_t)n);
    assert_memory_equal(buf, want, len);
}

static void test_raft_append_truncate_and_reopen(void **state)
{
    (void)state;
    create_raft();
    for (uint64_t i = 1; i <= 30; i++) {
        append_entry(i, i <= 10 ? 1 : 2);
    }
    assert_int_equal(ne_store_raft_append(&raft, 40, 2, "x", 1), NE_ERR_RANGE);
    assert_int_equal(ne_store_raft_append(&raft, 30, 2, "x", 1), NE_ERR_RANGE);
    uint64_t term = 0;
    assert_int_equal(ne_store_raft_last_term(&raft, &term), NE_OK);
    assert_int_equal(term, 2);
    /* A follower's conflicting suffix goes; new entries take its place. */
    assert_int_equal(ne_store_raft_truncate(&raft, 20), NE_OK);
    assert_int_equal(ne_store_raft_last_index(&raft), 20);
    append_entry(21, 3);
    append_entry(22, 3);
    assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
    assert_int_equal(ne_store_raft_set_term_vote(&raft, 3, 0x1122334455667788ull), NE_OK);
    assert_int_equal(ne_store_raft_set_term_vote(&raft, 2, 0), NE_ERR_RANGE);
    reopen();
    assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
    assert_int_equal(raft.term, 3);
    assert_int_equal(raft.vote, 0x1122334455667788ull);
    assert_int_equal(ne_store_raft_first_index(&raft), 1);
    assert_int_equal(ne_store_raft_last_index(&raft), 22);
    expect_entry(5, 1);
    expect_entry(20, 2);
    expect_entry(21, 3);
    expect_entry(22, 3);
}

static void test_raft_snapshot_compacts_the_prefix(void **state)
{
    (void)state;
    create_raft();
    for (uint64_t i = 1; i <= 50; i++) {
        append_entry(i, 1);
    }
    assert_int_equal(ne_store_raft_snapshot(&raft, 40, 1, "state at 40", 11), NE_OK);
    assert_int_equal(ne_store_raft_first_index(&raft), 41);
    size_t len = 0;
    uint64_t term;
    assert_int_equal(ne_store_raft_entry(&raft, 40, &term, buf, sizeof(buf), &len),
                     NE_ERR_NOT_FOUND);
    assert_int_equal(ne_store_raft_truncate(&raft, 30), NE_ERR_RANGE);
    assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
    reopen();
    assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
    assert_int_equal(raft.snapshot_index, 40);
    assert_int_equal(raft.snapshot_term, 1);
    assert_int_equal(ne_store_raft_first_index(&raft), 41);
    assert_int_equal(ne_store_raft_last_index(&raft), 50);
    assert_int_equal(ne_store_raft_load_snapshot(&raft, buf, sizeof(buf), &len), NE_OK);
    assert_int_equal(len, 11);
    assert_memory_equal(buf, "state at 40", 11);
    /* A snapshot past every entry leaves the log empty, restarting after it. */
    assert_int_equal(ne_store_raft_snapshot(&raft, 60, 2, "state at 60", 11), NE_OK);
    assert_int_equal(ne_store_raft_last_index(&raft), 60);
    append_entry(61, 2);
    assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
    reopen();
    assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
    assert_int_equal(ne_store_raft_first_index(&raft), 61);
    expect_entry(61, 2);
    /* Deleting the log removes its term, vote and snapshot with it. */
    assert_int_equal(ne_store_raft_set_term_vote(&raft, 5, 1), NE_OK);
    assert_int_equal(ne_store_raft_detach(&raft), NE_OK);
    assert_int_equal(ne_store_dev_delete(&dev, log_id), NE_OK);
    create_raft();
    assert_int_equal(raft.term, 0);
    assert_int_equal(raft.snapshot_index, 0);
}

/* Term and vote are durable when the call returns; a cut during it leaves
 * the old pair or the new one. */
static void test_raft_term_vote_survive_any_cut(void **state)
{
    (void)state;
    create_raft();
    assert_int_equal(ne_store_raft_set_term_vote(&raft, 4, 7), NE_OK);
    assert_int_equal(ne_store_raft_detach(&raft), NE_OK);
    save_image();
    bool saw_old = false;
    bool saw_new = false;
    for (uint64_t seed = 1; seed <= 16; seed++) {
        for (uint64_t cut = 1; cut < 20; cut++) {
            restore_image(seed * 5 + cut);
            reopen();
            assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
            ne_sim_flash_cut_after(&sim, cut);
            int rc = ne_store_raft_set_term_vote(&raft, 5, 9);
            if (rc == NE_OK) {
                sim.cut_at = 0;
                reopen();
                assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
                assert_int_equal(raft.term, 5);
                break;
            }
            assert_int_equal(rc, NE_ERR_POWER_LOSS);
            ne_sim_flash_power_on(&sim);
            reopen();
            assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
            bool old = raft.term == 4 && raft.vote == 7;
            bool new = raft.term == 5 && raft.vote == 9;
            assert_true(old || new);
            saw_old = saw_old || old;
            saw_new = saw_new || new;
        }
    }
    assert_true(saw_old);
    assert_true(saw_new);
}

/* Entries appended but not synced, behind a write cache that keeps a
 * random subset of what was written: after the cut the log holds a prefix
 * of its entries, every index up to the last one readable, never a hole
 * (RAFT must not claim an index it does not hold), and appends go on. */
static void test_raft_unsynced_entries_lost_in_any_order_leave_no_hole(void **state)
{
    (void)state;
    create_raft();
    static uint8_t big[700];
    for (uint64_t i = 1; i <= 5; i++) {
        append_entry(i, 1);
    }
    assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
    assert_int_equal(ne_store_raft_detach(&raft), NE_OK);
    save_image();
    bool saw_some = false;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        restore_image(seed);
        reopen();
        assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
        for (uint64_t i = 6; i <= 40; i++) {
            memset(big, (int)i, sizeof(big));
            assert_int_equal(ne_store_raft_append(&raft, i, 2, big, sizeof(big)), NE_OK);
        }
        ne_sim_flash_cut_after(&sim, 1);
        memset(big, 41, sizeof(big));
        int rc = ne_store_raft_append(&raft, 41, 2, big, sizeof(big));
        if (rc == NE_OK) {
            rc = ne_store_raft_sync(&raft);
        }
        assert_int_equal(rc, NE_ERR_POWER_LOSS);
        ne_sim_flash_power_on(&sim);
        reopen();
        assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
        uint64_t last = ne_store_raft_last_index(&raft);
        assert_true(last >= 5);
        saw_some = saw_some || last > 5;
        for (uint64_t i = 1; i <= last; i++) {
            uint64_t term = 0;
            size_t len = 0;
            assert_int_equal(ne_store_raft_entry(&raft, i, &term, buf, sizeof(buf), &len), NE_OK);
            if (i > 5) {
                assert_int_equal(len, sizeof(big));
                assert_int_equal(buf[0], (uint8_t)i);
            }
        }
        append_entry(last + 1, 3);
        assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
        reopen();
        assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
        assert_int_equal(ne_store_raft_last_index(&raft), last + 1);
        expect_entry(last + 1, 3);
    }
    assert_true(saw_some);
}

/* Regression (make powercut CUTS=20000, seeds 341636 and 955216 on the
 * many-log harness: RAFT entries unreadable inside [first, last]): after a
 * snapshot, the entry right after it was lost behind the write cache while
 * later ones were kept. Cutting the log back to the snapshot meant a
 * truncation below its first entry, which the store refuses; that refusal
 * was taken for "below the floor" and the log was left as it was, hole
 * included, and every later hole with it. As above, but after a snapshot:
 * every index from the snapshot to the last one is readable. */
static void test_raft_hole_right_after_a_snapshot_is_cut_off(void **state)
{
    (void)state;
    create_raft();
    static uint8_t big[700];
    for (uint64_t i = 1; i <= 5; i++) {
        append_entry(i, 1);
    }
    assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
    assert_int_equal(ne_store_raft_snapshot(&raft, 5, 1, "state at 5", 10), NE_OK);
    assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
    assert_int_equal(ne_store_raft_detach(&raft), NE_OK);
    save_image();
    bool saw_hole_cut = false;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        restore_image(seed);
        reopen();
        assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
        assert_int_equal(raft.snapshot_index, 5);
        for (uint64_t i = 6; i <= 40; i++) {
            memset(big, (int)i, sizeof(big));
            assert_int_equal(ne_store_raft_append(&raft, i, 2, big, sizeof(big)), NE_OK);
        }
        ne_sim_flash_cut_after(&sim, 1);
        memset(big, 41, sizeof(big));
        int rc = ne_store_raft_append(&raft, 41, 2, big, sizeof(big));
        if (rc == NE_OK) {
            rc = ne_store_raft_sync(&raft);
        }
        assert_int_equal(rc, NE_ERR_POWER_LOSS);
        ne_sim_flash_power_on(&sim);
        reopen();
        assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
        assert_int_equal(raft.snapshot_index, 5);
        uint64_t last = ne_store_raft_last_index(&raft);
        assert_true(last >= 5);
        uint64_t first = ne_store_raft_first_index(&raft);
        saw_hole_cut = saw_hole_cut || (last == 5 && raft.log.state.last_seq == 5);
        assert_true(last == 5 || first == 6);
        for (uint64_t i = 6; i <= last; i++) {
            uint64_t term = 0;
            size_t len = 0;
            assert_int_equal(ne_store_raft_entry(&raft, i, &term, buf, sizeof(buf), &len), NE_OK);
            assert_int_equal(len, sizeof(big));
            assert_int_equal(buf[0], (uint8_t)i);
        }
        append_entry(last + 1, 3);
        assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
        reopen();
        assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
        assert_int_equal(ne_store_raft_last_index(&raft), last + 1);
        expect_entry(last + 1, 3);
    }
    assert_true(saw_hole_cut);
}

/* Regression (random seed 927297 of make powercut, 20,000 cuts: a RAFT log
 * without a snapshot held entries from 2 on): without a snapshot the
 * repair took any first entry as following it, so a log whose entry 1 was
 * lost behind the write cache, and later ones kept, started at 2. Entries
 * of a new log never synced: what comes back starts at 1, or is empty. */
static void test_raft_first_entry_lost_without_a_snapshot_empties_the_log(void **state)
{
    (void)state;
    create_raft();
    assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
    assert_int_equal(ne_store_raft_detach(&raft), NE_OK);
    save_image();
    static uint8_t big[700];
    bool saw_empty = false;
    for (uint64_t seed = 1; seed <= 40; seed++) {
        restore_image(seed);
        reopen();
        assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
        for (uint64_t i = 1; i <= 30; i++) {
            memset(big, (int)i, sizeof(big));
            assert_int_equal(ne_store_raft_append(&raft, i, 2, big, sizeof(big)), NE_OK);
        }
        ne_sim_flash_cut_after(&sim, 1);
        int rc = ne_store_raft_sync(&raft);
        assert_int_equal(rc, NE_ERR_POWER_LOSS);
        ne_sim_flash_power_on(&sim);
        reopen();
        assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
        uint64_t last = ne_store_raft_last_index(&raft);
        uint64_t first = ne_store_raft_first_index(&raft);
        assert_true(last == 0 ? first == 0 : first == 1);
        saw_empty = saw_empty || last == 0;
        for (uint64_t i = 1; i <= last; i++) {
            uint64_t term = 0;
            size_t len = 0;
            assert_int_equal(ne_store_raft_entry(&raft, i, &term, buf, sizeof(buf), &len), NE_OK);
            assert_int_equal(buf[0], (uint8_t)i);
        }
        append_entry(last + 1, 3);
        assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
        reopen();
        assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
        assert_int_equal(ne_store_raft_last_index(&raft), last + 1);
        expect_entry(last + 1, 3);
    }
    assert_true(saw_empty);
}

/* ---- Keyed records ------------------------------------------------------------ */

static void attach_kv(void)
{
    ne_store_kv_config cfg = {
        .keys = keys, .key_capacity = 64, .key_text = key_text, .key_text_bytes = sizeof(key_text)};
    assert_int_equal(ne_store_kv_attach(&kv, &dev, log_id, &cfg), NE_OK);
}

typedef struct key_list {
    char names[8][32];
    int n;
} key_list;

static int note_key(void *ctx, const char *key, size_t len, uint64_t seq)
{
    key_list *l = ctx;
    assert_true(l->n < 8 && len < 32 && seq > 0);
    memcpy(l->names[l->n], key, len);
    l->names[l->n][len] = '\0';
    l->n++;
    return NE_OK;
}

static void expect_kv_value(const char *key, const char *value)
{
    const uint8_t *v;
    size_t len;
    assert_int_equal(ne_store_kv_get(&kv, key, strlen(key), buf, sizeof(buf), &v, &len), NE_OK);
    assert_int_equal(len, strlen(value));
    assert_memory_equal(v, value, len);
}

static void test_kv_put_get_delete_list_and_reopen(void **state)
{
    (void)state;
    assert_int_equal(
        ne_store_dev_create(&dev, NE_STORE_KIND_KV, 0, "mqtt-sessions", 13, NULL, 0, &log_id),
        NE_OK);
    attach_kv();
    assert_int_equal(ne_store_kv_put(&kv, "session/sensor 1", 16, "subs: a/#", 9), NE_OK);
    assert_int_equal(ne_store_kv_put(&kv, "session/sensor 2", 16, "subs: b/+", 9), NE_OK);
    assert_int_equal(ne_store_kv_put(&kv, "retained/a/b", 12, "21.5", 4), NE_OK);
    assert_int_equal(ne_store_kv_put(&kv, "session/sensor 1", 16, "subs: a/#, c", 12), NE_OK);
    assert_int_equal(ne_store_kv_count(&kv), 3);
    expect_kv_value("session/sensor 1", "subs: a/#, c");
    key_list l;
    memset(&l, 0, sizeof(l));
    assert_int_equal(ne_store_kv_list(&kv, "session/", 8, note_key, &l), NE_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(ne_store_kv_delete(&kv, "session/sensor 2", 16), NE_OK);
    assert_int_equal(ne_store_kv_delete(&kv, "session/sensor 2", 16), NE_ERR_NOT_FOUND);
    assert_int_equal(ne_store_kv_sync(&kv), NE_OK);
    reopen();
    attach_kv();
    assert_int_equal(ne_store_kv_count(&kv), 2);
    expect_kv_value("session/sensor 1", "subs: a/#, c");
    expect_kv_value("retained/a/b", "21.5");
    const uint8_t *v;
    size_t len;
    assert_int_equal(ne_store_kv_get(&kv, "session/sensor 2", 16, buf, sizeof(buf), &v, &len),
                     NE_ERR_NOT_FOUND);
    memset(&l, 0, sizeof(l));
    assert_int_equal(ne_store_kv_list(&kv, NULL, 0, note_key, &l), NE_OK);
    assert_int_equal(l.n, 2);
}

/* ---- A full device ------------------------------------------------------------ */

/* These logs are not streams with a discard policy: when the device has no
 * room left, a write is refused (NE_ERR_FULL) and nothing already written
 * leaves to make room for it. */
static void test_full_device_refuses_raft_entries_and_keeps_the_old_ones(void **state)
{
    (void)state;
    create_raft();
    static uint8_t big[2000];
    memset(big, 0xa5, sizeof(big));
    append_entry(1, 1);
    uint64_t index = 2;
    int rc = NE_OK;
    for (; index < 1000; index++) {
        rc = ne_store_raft_append(&raft, index, 1, big, sizeof(big));
        if (rc != NE_OK) {
            break;
        }
    }
    assert_int_equal(rc, NE_ERR_FULL);
    assert_int_equal(ne_store_raft_first_index(&raft), 1);
    assert_int_equal(ne_store_raft_last_index(&raft), index - 1);
    expect_entry(1, 1);
    assert_int_equal(ne_store_raft_sync(&raft), NE_OK);
    reopen();
    assert_int_equal(ne_store_raft_attach(&raft, &dev, log_id), NE_OK);
    assert_int_equal(ne_store_raft_first_index(&raft), 1);
    assert_int_equal(ne_store_raft_last_index(&raft), index - 1);
    expect_entry(1, 1);
}

static void test_full_device_refuses_consumer_changes_and_keeps_the_old_ones(void **state)
{
    (void)state;
    create_consumer(NE_STORE_ACK_EXPLICIT);
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    for (uint64_t d = 1; d <= 10; d++) {
        assert_int_equal(ne_store_consumer_delivered(&consumer, d, d, 1, d), NE_OK);
    }
    /* Redeliveries, never synced: their snapshots cannot take the older
     * records' place, so the log only grows until the device is full. */
    int rc = NE_OK;
    uint64_t d = 11;
    for (; d < 20000 && rc == NE_OK; d++) {
        rc = ne_store_consumer_delivered(&consumer, d, 1 + d % 10, (uint32_t)d, d);
    }
    assert_int_equal(rc, NE_ERR_FULL);
    assert_int_equal(consumer.log.state.first_seq, 1);
    assert_int_equal(consumer.pending_count, 10);
    assert_int_equal(ne_store_consumer_sync(&consumer), NE_OK);
    reopen();
    attach_consumer(NE_STORE_ACK_EXPLICIT);
    assert_int_equal(consumer.pending_count, 10);
    expect_pair(consumer.delivered, 10, 10);
}

static void test_full_device_refuses_kv_puts_and_keeps_the_other_keys(void **state)
{
    (void)state;
    assert_int_equal(
        ne_store_dev_create(&dev, NE_STORE_KIND_KV, 0, "mqtt-retained", 13, NULL, 0, &log_id),
        NE_OK);
    attach_kv();
    static uint8_t value[4000];
    int rc = NE_OK;
    uint32_t stored = 0;
    for (uint32_t i = 0; i < 48 && rc == NE_OK; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "retained/%u", i);
        /* Incompressible values (a large record is packed alone when that
         * saves room), led by the key's number. */
        uint32_t x = 2654435761u * (i + 1);
        for (size_t k = 0; k < sizeof(value); k++) {
            x = x * 1103515245u + 12345u;
            value[k] = (uint8_t)(x >> 24);
        }
        value[0] = (uint8_t)i;
        rc = ne_store_kv_put(&kv, key, (size_t)n, value, sizeof(value));
        stored += rc == NE_OK;
    }
    assert_int_equal(rc, NE_ERR_FULL);
    assert_int_equal(ne_store_kv_count(&kv), stored);
    assert_int_equal(ne_store_kv_sync(&kv), NE_OK);
    reopen();
    attach_kv();
    assert_int_equal(ne_store_kv_count(&kv), stored);
    for (uint32_t i = 0; i < stored; i++) {
        char key[16];
        int n = snprintf(key, sizeof(key), "retained/%u", i);
        const uint8_t *v;
        size_t len;
        assert_int_equal(ne_store_kv_get(&kv, key, (size_t)n, buf, sizeof(buf), &v, &len), NE_OK);
        assert_int_equal(len, sizeof(value));
        assert_int_equal(v[0], (uint8_t)i);
    }
}

#define T(test) cmocka_unit_test_setup_teardown(test, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_consumer_ack_floor_follows_nats_server),
        T(test_consumer_state_survives_reopen),
        T(test_consumer_snapshots_keep_the_log_short),
        T(test_consumer_ack_none_and_ack_all),
        T(test_consumer_pending_is_bounded_by_max_ack_pending),
        T(test_consumer_update_replaces_the_state),
        T(test_consumer_synced_ack_survives_any_cut),
        T(test_consumer_state_after_damage_is_a_past_state),
        T(test_consumer_batch_of_changes_applies_as_single_changes),
        T(test_consumer_batch_that_does_not_apply_is_refused),
        T(test_consumer_batches_cut_after_any_write_recover_a_past_state),
        T(test_raft_append_truncate_and_reopen),
        T(test_raft_snapshot_compacts_the_prefix),
        T(test_raft_term_vote_survive_any_cut),
        T(test_raft_unsynced_entries_lost_in_any_order_leave_no_hole),
        T(test_raft_hole_right_after_a_snapshot_is_cut_off),
        T(test_raft_first_entry_lost_without_a_snapshot_empties_the_log),
        T(test_kv_put_get_delete_list_and_reopen),
        T(test_full_device_refuses_raft_entries_and_keeps_the_old_ones),
        T(test_full_device_refuses_consumer_changes_and_keeps_the_old_ones),
        T(test_full_device_refuses_kv_puts_and_keeps_the_other_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
