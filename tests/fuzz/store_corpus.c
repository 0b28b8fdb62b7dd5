/* Writes the seed corpus of fuzz_store (make fuzz-store-corpus): real flash
 * images made by the store on the simulated flash, in the harness's input
 * layout (a geometry byte, then the image). Each seed runs a small random
 * workload (appends on a few subjects, deletes, purges, compactions, syncs);
 * every other seed ends in a power cut, so that the corpus holds torn runs,
 * half-written compaction blocks and retired blocks not yet erased, and
 * every third runs behind a write cache that loses part of what was not
 * synced. Deterministic: the same files every time.
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
#include "store/ne_store_dev.h"

#define ERASE 1024
#define MAX_BLOCKS 6
#define SEEDS 24

static ne_store store;
static ne_store_dev dev;
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static ne_sim_flash sim;
static uint8_t image[MAX_BLOCKS * ERASE];
static uint8_t durable[MAX_BLOCKS * ERASE];
static uint8_t dirty[NE_SIM_FLASH_DIRTY_BYTES(MAX_BLOCKS, ERASE, 16)];
static uint32_t counts[MAX_BLOCKS];
static ne_store_subject subjects[8];
static ne_snappy_table table;
static uint64_t rng;

static uint32_t rnd(uint32_t below)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return below == 0 ? 0 : (uint32_t)(rng % below);
}

static int open_store(void)
{
    ne_store_config cfg = {.subjects = subjects, .subject_capacity = 8};
    cfg.limits.max_msgs_per_subject = 3;
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

static int step(void)
{
    static const char *names[] = {"a.b", "a.c", "x.y", "kv.k1"};
    static uint8_t payload[300];
    uint32_t dice = rnd(100);
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
        int rc = ne_store_append(&store, &m, NULL);
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    ne_store_state st;
    ne_store_get_state(&store, &st);
    if (dice < 72) {
        int rc = ne_store_delete(&store, st.first_seq + rnd(8));
        return rc == NE_ERR_NOT_FOUND || rc == NE_ERR_FULL ? NE_OK : rc;
    }
    if (dice < 76) {
        ne_store_purge_req req = {.subject = names[rnd(4)], .keep = rnd(2)};
        req.subject_len = strlen(req.subject);
        int rc = ne_store_purge(&store, &req, NULL);
        return rc == NE_ERR_FULL ? NE_OK : rc;
    }
    if (dice < 80) {
        return ne_store_compact(&store, NULL);
    }
    return ne_store_sync(&store);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s <directory>\n", argv[0]);
        return 2;
    }
    static const uint32_t units[] = {1, 8, 16, 64};
    for (uint32_t seed = 0; seed < SEEDS; seed++) {
        uint8_t g = (uint8_t)(seed * 5 % 12);
        ne_flash_geometry geo = {
            .program_bytes = units[g & 3], .erase_bytes = ERASE, .block_count = 4 + (g >> 2) % 3};
        rng = 0x9e3779b97f4a7c15ull * (seed + 1);
        ne_sim_flash_init(&sim, geo, image, counts, NULL, seed + 1);
        if (seed % 3 == 2) {
            ne_sim_flash_use_cache(&sim, durable, dirty, 16, 0, 0);
        }
        if (open_store() != NE_OK) {
            fprintf(stderr, "store_corpus: open failed for seed %u\n", seed);
            return 1;
        }
        uint32_t steps = 40 + rnd(200);
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
