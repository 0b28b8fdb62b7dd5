/* libFuzzer harness for the recovery of a storage device: the input is a
 * flash image (its first byte picks the geometry). The device opens it,
 * walks its catalogue and attaches every log it names to a front end of
 * its kind (streams, KV logs, consumer state, RAFT logs), reads everything
 * back every way it can, then works on each log (append, delete, purge,
 * compact, deliveries and acks, RAFT appends, truncation and snapshots,
 * catalogue changes, sync) and opens the device again. It must never
 * crash, overrun or trip an assertion, and every stream record it returns
 * must be one the image holds: a MSG frame whose header and body CRCs are
 * right and whose fields decode to that record (plain, or inside a valid
 * compressed pack). The seed corpus holds real images of several logs with
 * torn writes, compaction blocks and catalogue changes
 * (tests/fuzz/corpus/fuzz_store, written by tests/fuzz/store_corpus.c). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ne_crc32c.h"
#include "codec/ne_snappy.h"
#include "core/ne_error.h"
#include "sim/ne_sim_flash.h"
#include "store/ne_store.h"
#include "store/ne_store_consumer.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_kv.h"
#include "store/ne_store_raft.h"

#define ERASE 1024
#define MAX_BLOCKS 10
#define STREAMS 3
#define PENDING 8

static ne_store_dev dev;
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static ne_sim_flash sim;
static uint8_t image[MAX_BLOCKS * ERASE];
static uint32_t counts[MAX_BLOCKS];
static ne_snappy_table table;
static uint8_t buf[ERASE * 2];
static uint8_t unpacked[ERASE * 4];

static ne_store streams[STREAMS];
static ne_store_subject subjects[STREAMS][8];
static char subject_text[STREAMS][256];
static uint32_t stream_count;
static ne_store_kv kv;
static ne_store_subject kv_keys[8];
static char kv_text[256];
static bool kv_attached;
static ne_store_consumer consumer;
static ne_store_pending pending[PENDING];
static uint8_t snapshot[NE_STORE_CONSUMER_SNAPSHOT_BYTES(PENDING)];
static bool consumer_attached;
static ne_store_raft raft;
static bool raft_attached;

static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | ((uint64_t)get32(p + 4) << 32);
}

/* Whether a MSG body of n bytes decodes to m: sequence, time, subject,
 * headers and payload (past the replaced record's fields when it has
 * them). */
static bool body_is(const uint8_t *b, size_t n, const ne_store_msg *m)
{
    if (n < 24) {
        return false;
    }
    size_t off = 24 + ((get16(b + 22) & 1u) ? 24u : 0u);
    size_t hl = get32(b + 16);
    size_t sl = get16(b + 20);
    if (get64(b) != m->seq || get64(b + 8) != m->timestamp_ns || sl != m->subject_len ||
        hl != m->headers_len || off + sl + hl > n || n - off - sl - hl != m->payload_len) {
        return false;
    }
    return memcmp(b + off, m->subject, sl) == 0 &&
           (hl == 0 || memcmp(b + off + sl, m->headers, hl) == 0) &&
           (m->payload_len == 0 || memcmp(b + off + sl + hl, m->payload, m->payload_len) == 0);
}

/* True when a valid pack frame of the image (header CRC salted with its
 * block's header, body CRC right) decompresses to frames among which one
 * decodes to m with its body CRC right. */
static bool in_some_pack(size_t image_bytes, const ne_store_msg *m)
{
    for (size_t off = 32; off + 16 + 24 <= image_bytes; off += 8) {
        const uint8_t *h = image + off;
        const uint8_t *block = image + off / ERASE * ERASE;
        uint32_t blen = get32(h + 4);
        if ((size_t)(h - block) < 32 || h[0] != 0x50 || blen < 24 || blen > image_bytes ||
            off + 16 + blen > image_bytes || ne_crc32c(get32(block + 28), h, 12) != get32(h + 12) ||
            ne_crc32c(0, h + 16, blen) != get32(h + 8)) {
            continue;
        }
        size_t out_len = 0;
        if (ne_snappy_decompress(h + 16 + 24, blen - 24, unpacked, sizeof(unpacked), &out_len) !=
            NE_OK) {
            continue;
        }
        for (size_t q = 0; q + 16 <= out_len; q += 8) {
            const uint8_t *f = unpacked + q;
            size_t n = get32(f + 4);
            if (f[0] == 0x4d && n <= out_len - q - 16 && body_is(f + 16, n, m) &&
                ne_crc32c(0, f + 16, n) == get32(f + 8)) {
                return true;
            }
        }
    }
    return false;
}

/* A record returned must be in the image: a MSG frame behind a valid
 * header (CRC seeded with its block's salt) whose body decodes to it with
 * its body CRC right, or one inside a valid pack. A fuzzed image may hold
 * stale or altered copies anywhere: only a record found nowhere with its
 * own CRC is wrong. */
static void check_record(const ne_store_msg *m, size_t image_bytes)
{
    bool seen = false;
    for (size_t off = 32; off + 16 + 24 <= image_bytes; off += 8) {
        const uint8_t *h = image + off;
        const uint8_t *block = image + off / ERASE * ERASE;
        size_t n = get32(h + 4);
        if ((size_t)(h - block) < 32 || h[0] != 0x4d || n > image_bytes - off - 16 ||
            ne_crc32c(get32(block + 28), h, 12) != get32(h + 12) || !body_is(h + 16, n, m)) {
            continue;
        }
        if (ne_crc32c(0, h + 16, n) == get32(h + 8)) {
            return;
        }
        seen = true;
    }
    if (seen && !in_some_pack(image_bytes, m)) {
        abort();
    }
}

static void read_everything(ne_store *st, size_t image_bytes)
{
    ne_store_msg m;
    uint64_t from = 1;
    uint64_t prev = 0;
    ne_store_reader reader;
    ne_store_reader_init(&reader);
    for (int i = 0; i < 4096; i++) {
        int rc = ne_store_read_next(st, &reader, from, NULL, 0, &m, buf, sizeof(buf));
        if (rc != NE_OK) {
            break;
        }
        if (m.seq <= prev) {
            abort();
        }
        prev = m.seq;
        check_record(&m, image_bytes);
        if (ne_store_load(st, m.seq, &m, buf, sizeof(buf)) == NE_OK) {
            check_record(&m, image_bytes);
            (void)ne_store_load_last(st, m.subject, m.subject_len, &m, buf, sizeof(buf));
        }
        from = prev + 1;
    }
    (void)ne_store_load_next(st, 1, "a.*", 3, &m, buf, sizeof(buf));
    ne_store_simple_state ss;
    (void)ne_store_filtered_state(st, 1, "a.>", 3, &ss);
    uint64_t t = 0;
    (void)ne_store_seq_for_time(st, 1500, &t);
}

static int count_key(void *ctx, const char *key, size_t len, uint64_t seq)
{
    (void)key;
    (void)len;
    (void)seq;
    (*(uint32_t *)ctx)++;
    return NE_OK;
}

/* Opens the device and attaches every log its catalogue names (as many of
 * each kind as the harness has room for); creates a stream when there is
 * none. */
static int open_device(void)
{
    stream_count = 0;
    kv_attached = false;
    consumer_attached = false;
    raft_attached = false;
    int rc = ne_store_dev_open(&dev, &sim.flash, &table);
    if (rc != NE_OK) {
        return rc;
    }
    uint32_t after = 0;
    for (int i = 0; i < NE_STORE_MAX_LOGS; i++) {
        ne_store_entry e;
        rc = ne_store_dev_next_entry(&dev, after, &e, entry_buf, sizeof(entry_buf));
        if (rc == NE_ERR_NOT_FOUND) {
            break;
        }
        if (rc != NE_OK && rc != NE_ERR_CORRUPT && rc != NE_ERR_TOO_BIG) {
            return rc;
        }
        after = e.id;
        if (rc != NE_OK) {
            continue;
        }
        if (e.kind == NE_STORE_KIND_STREAM && stream_count < STREAMS) {
            ne_store_config cfg = {.subjects = subjects[stream_count],
                                   .subject_capacity = 8,
                                   .subject_text = subject_text[stream_count],
                                   .subject_text_bytes = sizeof(subject_text[0])};
            cfg.limits.max_msgs_per_subject = 3;
            if (ne_store_attach(&streams[stream_count], &dev, e.id, &cfg) == NE_OK) {
                stream_count++;
            }
        } else if (e.kind == NE_STORE_KIND_KV && !kv_attached) {
            ne_store_kv_config cfg = {.keys = kv_keys,
                                      .key_capacity = 8,
                                      .key_text = kv_text,
                                      .key_text_bytes = sizeof(kv_text)};
            kv_attached = ne_store_kv_attach(&kv, &dev, e.id, &cfg) == NE_OK;
        } else if (e.kind == NE_STORE_KIND_CONSUMER && !consumer_attached) {
            ne_store_consumer_config cfg = {.ack_policy = NE_STORE_ACK_EXPLICIT,
                                            .pending = pending,
                                            .pending_capacity = PENDING,
                                            .snapshot_buf = snapshot,
                                            .snapshot_bytes = sizeof(snapshot)};
            consumer_attached = ne_store_consumer_attach(&consumer, &dev, e.id, &cfg) == NE_OK;
        } else if (e.kind == NE_STORE_KIND_RAFT && !raft_attached) {
            raft_attached = ne_store_raft_attach(&raft, &dev, e.id) == NE_OK;
        }
    }
    if (stream_count == 0) {
        uint32_t id = 0;
        rc = ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "S", 1, NULL, 0, &id);
        if (rc != NE_OK) {
            return rc;
        }
        ne_store_config cfg = {.subjects = subjects[0], .subject_capacity = 8};
        rc = ne_store_attach(&streams[0], &dev, id, &cfg);
        if (rc != NE_OK) {
            return rc;
        }
        stream_count = 1;
    }
    return NE_OK;
}

static void read_all(size_t image_bytes)
{
    for (uint32_t k = 0; k < stream_count; k++) {
        read_everything(&streams[k], image_bytes);
    }
    if (kv_attached) {
        read_everything(&kv.log, image_bytes);
        uint32_t keys = 0;
        (void)ne_store_kv_list(&kv, "k", 1, count_key, &keys);
        const uint8_t *v;
        size_t len;
        (void)ne_store_kv_get(&kv, "k1", 2, buf, sizeof(buf), &v, &len);
    }
    if (consumer_attached) {
        if (consumer.pending_count > PENDING) {
            abort();
        }
        for (uint32_t i = 1; i < consumer.pending_count; i++) {
            if (consumer.pending[i].stream_seq <= consumer.pending[i - 1].stream_seq) {
                abort();
            }
        }
    }
    if (raft_attached) {
        uint64_t first = ne_store_raft_first_index(&raft);
        uint64_t last = ne_store_raft_last_index(&raft);
        for (uint64_t i = first; i <= last && first != 0 && i < first + 64; i++) {
            uint64_t term = 0;
            size_t len = 0;
            (void)ne_store_raft_entry(&raft, i, &term, buf, sizeof(buf), &len);
        }
        size_t len = 0;
        (void)ne_store_raft_load_snapshot(&raft, buf, sizeof(buf), &len);
    }
}

static void work(const uint8_t *data, size_t size)
{
    for (uint32_t k = 0; k < stream_count; k++) {
        ne_store *st = &streams[k];
        ne_store_state s;
        ne_store_get_state(st, &s);
        ne_store_msg m = {
            .subject = "a.b", .subject_len = 3, .payload = data, .payload_len = size % 200};
        (void)ne_store_append(st, &m, NULL);
        (void)ne_store_delete(st, s.first_seq + 1);
        ne_store_purge_req req = {.subject = "a.b", .subject_len = 3, .keep = 1};
        (void)ne_store_purge(st, &req, NULL);
        if (k == 1) {
            (void)ne_store_truncate(st, s.last_seq > 2 ? s.last_seq - 2 : s.last_seq);
        }
        (void)ne_store_compact(st, NULL);
    }
    if (kv_attached) {
        (void)ne_store_kv_put(&kv, "k1", 2, data, size % 64);
        (void)ne_store_kv_delete(&kv, "k2", 2);
    }
    if (consumer_attached) {
        uint64_t d = consumer.delivered.consumer_seq + 1;
        (void)ne_store_consumer_delivered(&consumer, d, consumer.delivered.stream_seq + 1, 1, d);
        if (consumer.pending_count > 0) {
            (void)ne_store_consumer_ack(&consumer, consumer.pending[0].consumer_seq,
                                        consumer.pending[0].stream_seq);
        }
        (void)ne_store_consumer_sync(&consumer);
    }
    if (raft_attached) {
        uint64_t last = ne_store_raft_last_index(&raft);
        (void)ne_store_raft_append(&raft, last + 1, raft.term, data, size % 100);
        if (last > 3) {
            (void)ne_store_raft_truncate(&raft, last - 1);
        }
        (void)ne_store_raft_set_term_vote(&raft, raft.term + 1, 7);
        if (last > 2) {
            (void)ne_store_raft_snapshot(&raft, last - 2, raft.term, "snap", 4);
        }
    }
    uint32_t id = 0;
    if (ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "T", 1, "cfg", 3, &id) == NE_OK) {
        (void)ne_store_dev_update(&dev, id, "cfg2", 4);
        (void)ne_store_dev_delete(&dev, id);
    }
    (void)ne_store_dev_sync(&dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    static const uint32_t units[] = {1, 8, 16, 64};
    ne_flash_geometry g = {.program_bytes = units[data[0] & 3],
                           .erase_bytes = ERASE,
                           .block_count = 6 + ((data[0] >> 2) % 5)};
    size_t bytes = (size_t)g.block_count * ERASE;
    ne_sim_flash_init(&sim, g, image, counts, NULL, 1);
    memcpy(image, data + 1, size - 1 < bytes ? size - 1 : bytes);
    if (open_device() != NE_OK) {
        return 0;
    }
    read_all(bytes);
    work(data, size);
    if (open_device() == NE_OK) {
        read_all(bytes);
    }
    return 0;
}
