/* Writes the seed corpus of fuzz_store (make fuzz-store-corpus): real flash
 * images made by the store on the simulated flash, in the harness's input
 * layout (a geometry byte, then the image). Each seed runs a small random
 * workload over several logs on one device: two streams (appends on a few
 * subjects, one message per subject in the second, deletes, purges,
 * truncations, compactions), a KV log, a consumer's state, a RAFT log
 * (appends, truncation, term and vote, snapshots) and catalogue changes
 * (a stream created and deleted); every other seed ends in a power cut, so
 * that the corpus holds torn runs, half-written compaction blocks and
 * retired blocks not yet erased, and every third runs behind a write cache
 * that loses part of what was not synced. Deterministic: the same files
 * every time.
 *
 *   store_corpus <directory>
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

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
#define SEEDS 24
#define PENDING 8

static ne_store streams[2];
static ne_store_subject subjects[2][8];
static ne_store_kv kv;
static ne_store_subject kv_keys[8];
static char kv_text[256];
static ne_store_consumer consumer;
static ne_store_pending pending[PENDING];
static uint8_t snapshot[NE_STORE_CONSUMER_SNAPSHOT_BYTES(PENDING)];
static ne_store_raft raft;
static ne_store_dev dev;
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static ne_sim_flash sim;
static uint8_t image[MAX_BLOCKS * ERASE];
static uint8_t durable[MAX_BLOCKS * ERASE];
static uint8_t dirty[NE_SIM_FLASH_DIRTY_BYTES(MAX_BLOCKS, ERASE, 16)];
static uint32_t counts[MAX_BLOCKS];
static ne_snappy_table table;
static uint64_t rng;

static uint32_t rnd(uint32_t below)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return below == 0 ? 0 : (uint32_t)(rng % below);
}

static int find_or_create(ne_store_kind kind, const char *name, uint32_t *id)
{
    ne_store_entry e;
    int rc = ne_store_dev_find(&dev, kind, 0, name, strlen(name), &e, entry_buf, sizeof(entry_buf));
    if (rc == NE_ERR_NOT_FOUND) {
        return ne_store_dev_create(&dev, kind, 0, name, strlen(name), "{}", 2, id);
    }
    *id = e.id;
    return rc;
}

static int open_device(void)
{
    int rc = ne_store_dev_open(&dev, &sim.flash, &table);
    uint32_t id = 0;
    for (int k = 0; k < 2 && rc == NE_OK; k++) {
        rc = find_or_create(NE_STORE_KIND_STREAM, k == 0 ? "S" : "KVS", &id);
        if (rc == NE_OK) {
            ne_store_config cfg = {.subjects = subjects[k], .subject_capacity = 8};
            cfg.limits.max_msgs_per_subject = k == 0 ? 3 : 1;
            rc = ne_store_attach(&streams[k], &dev, id, &cfg);
        }
    }
    if (rc == NE_OK) {
        rc = find_or_create(NE_STORE_KIND_KV, "sessions", &id);
    }
    if (rc == NE_OK) {
        ne_store_kv_config cfg = {
            .keys = kv_keys, .key_capacity = 8, .key_text = kv_text, .key_text_bytes = 256};
        rc = ne_store_kv_attach(&kv, &dev, id, &cfg);
    }
    if (rc == NE_OK) {
        rc = find_or_create(NE_STORE_KIND_CONSUMER, "C", &id);
    }
    if (rc == NE_OK) {
        ne_store_consumer_config cfg = {.ack_policy = NE_STORE_ACK_EXPLICIT,
                                        .pending = pending,
                                        .pending_capacity = PENDING,
                                        .snapshot_buf = snapshot,
                                        .snapshot_bytes = sizeof(snapshot)};
        rc = ne_store_consumer_attach(&consumer, &dev, id, &cfg);
    }
    if (rc == NE_OK) {
        rc = find_or_create(NE_STORE_KIND_RAFT, "R", &id);
    }
    if (rc == NE_OK) {
        rc = ne_store_raft_attach(&raft, &dev, id);
    }
    return rc;
}

static int ignore_full(int rc)
{
    return rc == NE_ERR_FULL || rc == NE_ERR_NOT_FOUND || rc == NE_ERR_RANGE ? NE_OK : rc;
}

static int stream_step(ne_store *st, uint32_t dice)
{
    static const char *names[] = {"a.b", "a.c", "x.y", "kv.k1"};
    static uint8_t payload[120];
    if (dice < 60) {
        const char *subject = names[rnd(4)];
        size_t len = rnd(sizeof(payload));
        for (size_t i = 0; i < len; i++) {
            payload[i] = (uint8_t)(dice & 1 ? 'a' + i % 7 : rnd(256));
        }
        ne_store_msg m = {.subject = subject,
                          .subject_len = strlen(subject),
                          .payload = payload,
                          .payload_len = len,
                          .timestamp_ns = 1000 + rng % 1000};
        return ignore_full(ne_store_append(st, &m, NULL));
    }
    ne_store_state s;
    ne_store_get_state(st, &s);
    if (dice < 72) {
        return ignore_full(ne_store_delete(st, s.first_seq + rnd(8)));
    }
    if (dice < 76) {
        ne_store_purge_req req = {.subject = names[rnd(4)], .keep = rnd(2)};
        req.subject_len = strlen(req.subject);
        return ignore_full(ne_store_purge(st, &req, NULL));
    }
    if (dice < 78 && s.last_seq > 3) {
        return ignore_full(ne_store_truncate(st, s.last_seq - rnd(3)));
    }
    return ne_store_compact(st, NULL);
}

static int step(void)
{
    uint32_t which = rnd(100);
    uint32_t dice = rnd(100);
    if (which < 45) {
        return stream_step(&streams[which < 30 ? 0 : 1], dice);
    }
    if (which < 55) {
        char key[8];
        snprintf(key, sizeof(key), "k%u", rnd(5));
        return ignore_full(dice < 80 ? ne_store_kv_put(&kv, key, strlen(key), "value", 1 + rnd(5))
                                     : ne_store_kv_delete(&kv, key, strlen(key)));
    }
    if (which < 70) {
        if (dice < 60 || consumer.pending_count == 0) {
            uint64_t d = consumer.delivered.consumer_seq + 1;
            return ignore_full(ne_store_consumer_delivered(
                &consumer, d, consumer.delivered.stream_seq + 1 + rnd(2), 1, d));
        }
        const ne_store_pending *p = &consumer.pending[rnd(consumer.pending_count)];
        return ignore_full(ne_store_consumer_ack(&consumer, p->consumer_seq, p->stream_seq));
    }
    if (which < 85) {
        uint64_t last = ne_store_raft_last_index(&raft);
        if (dice < 70) {
            char entry[40];
            int n = snprintf(entry, sizeof(entry), "entry %llu", (unsigned long long)last + 1);
            return ignore_full(ne_store_raft_append(&raft, last + 1, raft.term, entry, (size_t)n));
        }
        if (dice < 80 && last > 2) {
            return ignore_full(ne_store_raft_truncate(&raft, last - 1));
        }
        if (dice < 90) {
            return ignore_full(ne_store_raft_set_term_vote(&raft, raft.term + 1, 1 + rnd(3)));
        }
        return last > 1 ? ignore_full(ne_store_raft_snapshot(&raft, last - 1, raft.term, "s", 1))
                        : NE_OK;
    }
    if (which < 88) {
        uint32_t id = 0;
        int rc = ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "TMP", 3, "x", 1, &id);
        if (rc == NE_OK) {
            rc = ne_store_dev_delete(&dev, id);
        }
        return ignore_full(rc == NE_ERR_EXISTS ? NE_OK : rc);
    }
    if (which < 92) {
        return ignore_full(ne_store_consumer_sync(&consumer));
    }
    return ignore_full(ne_store_dev_sync(&dev));
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    static const uint32_t units[] = {1, 8, 16, 64};
    for (uint32_t seed = 0; seed < SEEDS; seed++) {
        uint8_t g = (uint8_t)(seed * 5 % 20);
        ne_flash_geometry geo = {
            .program_bytes = units[g & 3], .erase_bytes = ERASE, .block_count = 6 + (g >> 2) % 5};
        rng = 0x9e3779b97f4a7c15ull * (seed + 1);
        ne_sim_flash_init(&sim, geo, image, counts, NULL, seed + 1);
        if (seed % 3 == 2) {
            ne_sim_flash_use_cache(&sim, durable, dirty, 16, 0, 0);
        }
        if (open_device() != NE_OK) {
            fprintf(stderr, "store_corpus: open failed for seed %u\n", seed);
            return 1;
        }
        uint32_t steps = 80 + rnd(300);
        if (seed % 2 == 1) {
            ne_sim_flash_cut_after(&sim, 20 + rnd(60));
        }
        for (uint32_t i = 0; i < steps; i++) {
            int rc = step();
            if (rc == NE_ERR_POWER_LOSS) {
                break;
            }
            if (rc != NE_OK) {
                fprintf(stderr, "store_corpus: seed %u step %u: %s\n", seed, i, ne_err_name(rc));
                return 1;
            }
        }
        char path[512];
        snprintf(path, sizeof(path), "%s/seed-%02u", argv[1], seed);
        FILE *f = fopen(path, "wb");
        if (f == NULL) {
            perror(path);
            return 1;
        }
        size_t bytes = (size_t)geo.block_count * ERASE;
        if (fwrite(&g, 1, 1, f) != 1 || fwrite(image, 1, bytes, f) != bytes || fclose(f) != 0) {
            perror(path);
            return 1;
        }
    }
    return 0;
}
