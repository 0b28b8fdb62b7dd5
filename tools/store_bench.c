/* Figures for the storage engine (make bench-store; not part of make test):
 *
 *   --sizes     RAM of a store as compiled (per stream, per indexed subject)
 *   --append    append throughput to the file-backed flash store, 128 B and
 *               4 KiB records, a sync after every record and a sync every
 *               64 records
 *   --recover   time to open (recover) a file-backed store of 1 million
 *               128 B records
 *   --wear      erase-count spread on the simulated flash after a long
 *               key-value workload with cold keys
 *   --streams   1, 16 and 256 streams with one consumer each on one
 *               file-backed device: append and read rates, RAM per stream
 *               and per consumer
 *
 * With no option it does all of them. --path FILE sets the device file
 * (default build/store_bench.flash; it is created and removed), --records N
 * the recovery test's size. The benchmark is compiled with its own store
 * knobs (Makefile, store section): the figures say which. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ne_error.h"
#include "posix/ne_file_flash.h"
#include "sim/ne_sim_flash.h"
#include "store/ne_store.h"
#include "store/ne_store_consumer.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_mem.h"

static ne_store store;
static ne_store_dev fs;
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static ne_store_subject subjects[1024];
static ne_snappy_table table;
static const char *path = "build/store_bench.flash";
static uint64_t recover_records = 1000000;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "store_bench: %s: %s\n", what, ne_err_name(rc));
    exit(1);
}

static void print_sizes(void)
{
    printf("config: NE_STORE_MAX_BLOCKS %u, NE_STORE_BLOCK_MAX_RECORDS %u, "
           "NE_STORE_WRITE_BUFFER_BYTES %u, NE_STORE_READ_BUFFER_BYTES %u, "
           "NE_STORE_PACK_RAW_BYTES %u, NE_STORE_PROGRAM_CHUNK_BYTES %u\n",
           NE_STORE_MAX_BLOCKS, NE_STORE_BLOCK_MAX_RECORDS, NE_STORE_WRITE_BUFFER_BYTES,
           NE_STORE_READ_BUFFER_BYTES, NE_STORE_PACK_RAW_BYTES, NE_STORE_PROGRAM_CHUNK_BYTES);
    printf("RAM per device: sizeof(ne_store_dev) %zu B; per stream: sizeof(ne_store) %zu + its "
           "slot %zu B\n",
           sizeof(ne_store_dev), sizeof(ne_store), sizeof(ne_store_slot));
    printf("RAM per memory stream: sizeof(ne_store) %zu + sizeof(ne_store_mem) %zu = %zu B "
           "(+ the arena: 4 B per sequence spanned, 32 B + message per record)\n",
           sizeof(ne_store), sizeof(ne_store_mem), sizeof(ne_store) + sizeof(ne_store_mem));
    printf("RAM per indexed subject: sizeof(ne_store_subject) %zu B (%zu B at the table's 7/8 "
           "fill)\n",
           sizeof(ne_store_subject), sizeof(ne_store_subject) * 8 / 7);
    printf("shared snappy table (optional, one per event loop): %zu B\n", sizeof(ne_snappy_table));
}

/* A telemetry-looking payload: JSON with changing numbers. */
static size_t make_payload(uint8_t *out, size_t len, uint64_t n)
{
    size_t off = 0;
    uint64_t x = n * 0x9e3779b97f4a7c15ull;
    while (off < len) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        int w =
            snprintf((char *)out + off, len - off + 1,
                     "{\"site\":\"plant-%02u\",\"t\":%llu,\"temp\":%u.%u,\"rh\":%u}",
                     (unsigned)(n % 40), (unsigned long long)(1700000000000ull + n),
                     (unsigned)(x >> 59) + 10, (unsigned)(x >> 40) % 10, (unsigned)(x >> 20) % 100);
        if (w <= 0) {
            break;
        }
        off += (size_t)w;
    }
    return len;
}

static ne_file_flash ff;

/* Opens the device and attaches its one stream "S". */
static int open_stream(const ne_flash *flash, const ne_store_config *cfg)
{
    int rc = ne_store_dev_open(&fs, flash, &table);
    if (rc != NE_OK) {
        return rc;
    }
    ne_store_entry e;
    uint32_t id = 0;
    rc = ne_store_dev_find(&fs, NE_STORE_KIND_STREAM, 0, "S", 1, &e, entry_buf, sizeof(entry_buf));
    if (rc == NE_ERR_NOT_FOUND) {
        rc = ne_store_dev_create(&fs, NE_STORE_KIND_STREAM, 0, "S", 1, NULL, 0, &id);
    } else {
        id = e.id;
    }
    return rc != NE_OK ? rc : ne_store_attach(&store, &fs, id, cfg);
}

static void open_file_store(ne_flash_geometry g, bool fresh, const ne_store_limits *limits)
{
    if (fresh) {
        unlink(path);
    }
    int rc = ne_file_flash_open(&ff, path, g);
    if (rc != NE_OK) {
        die("opening the device file", rc);
    }
    ne_store_config cfg = {.subjects = subjects, .subject_capacity = 1024};
    if (limits != NULL) {
        cfg.limits = *limits;
    }
    rc = open_stream(&ff.flash, &cfg);
    if (rc != NE_OK) {
        die("opening the store", rc);
    }
}

static const ne_flash_geometry file_geometry = {
    .program_bytes = 256, .erase_bytes = 1024 * 1024, .block_count = 256};

static void bench_append(size_t size, uint32_t sync_every, double seconds)
{
    open_file_store(file_geometry, true, NULL);
    static uint8_t payload[4096];
    char subject[32];
    uint64_t n = 0;
    double start = now_s();
    double end = start + seconds;
    for (;; n++) {
        if ((n & 63) == 0 && now_s() >= end && n % sync_every == 0) {
            break;
        }
        make_payload(payload, size, n);
        int slen = snprintf(subject, sizeof(subject), "telemetry.site.%u", (unsigned)(n % 100));
        ne_store_msg m = {.subject = subject,
                          .subject_len = (size_t)slen,
                          .payload = payload,
                          .payload_len = size,
                          .timestamp_ns = 1700000000000000000ull + n};
        int rc = ne_store_append(&store, &m, NULL);
        if (rc != NE_OK) {
            die("append", rc);
        }
        if ((n + 1) % sync_every == 0) {
            rc = ne_store_sync(&store);
            if (rc != NE_OK) {
                die("sync", rc);
            }
        }
    }
    double took = now_s() - start;
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&fs, &st);
    printf("append %4zu B, sync every %3u: %9.0f records/s, %7.2f MB/s of payload, "
           "%.2f MB/s programmed (%llu records, %.1f s, %llu syncs)\n",
           size, sync_every, (double)n / took, (double)n * (double)size / took / 1e6,
           (double)st.program_bytes / took / 1e6, (unsigned long long)n, took,
           (unsigned long long)st.syncs);
    ne_file_flash_close(&ff);
    unlink(path);
}

static void bench_recover(void)
{
    open_file_store(file_geometry, true, NULL);
    static uint8_t payload[128];
    char subject[32];
    double start = now_s();
    for (uint64_t n = 0; n < recover_records; n++) {
        make_payload(payload, sizeof(payload), n);
        int slen = snprintf(subject, sizeof(subject), "telemetry.site.%u", (unsigned)(n % 100));
        ne_store_msg m = {.subject = subject,
                          .subject_len = (size_t)slen,
                          .payload = payload,
                          .payload_len = sizeof(payload),
                          .timestamp_ns = 1700000000000000000ull + n};
        int rc = ne_store_append(&store, &m, NULL);
        if (rc != NE_OK) {
            die("append", rc);
        }
        if ((n + 1) % 1000 == 0 && (rc = ne_store_sync(&store)) != NE_OK) {
            die("sync", rc);
        }
    }
    int rc = ne_store_sync(&store);
    if (rc != NE_OK) {
        die("sync", rc);
    }
    double wrote = now_s() - start;
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&fs, &st);
    ne_file_flash_close(&ff);
    start = now_s();
    open_file_store(file_geometry, false, NULL);
    double took = now_s() - start;
    ne_store_state state;
    ne_store_get_state(&store, &state);
    printf("recovery: %llu records of 128 B (written in %.1f s, %u blocks of 1 MiB, packs "
           "%.0f%% of raw) opened in %.3f s = %.2f M records/s; recovered %llu messages, "
           "%u subjects, last_seq %llu (device file in the page cache)\n",
           (unsigned long long)recover_records, wrote, st.blocks_data,
           st.pack_raw_bytes ? 100.0 * (double)st.pack_stored_bytes / (double)st.pack_raw_bytes
                             : 100.0,
           took, (double)state.msgs / took / 1e6, (unsigned long long)state.msgs,
           state.num_subjects, (unsigned long long)state.last_seq);
    ne_file_flash_close(&ff);
    unlink(path);
}

/* ---- Many streams on one device ------------------------------------------------ */

#define BENCH_MAX_STREAMS 256
#define BENCH_PENDING 64  /* each consumer's max_ack_pending */
#define BENCH_SUBJECTS 16 /* subject table slots per stream */

static ne_store bench_streams[BENCH_MAX_STREAMS];
static ne_store_subject bench_subjects[BENCH_MAX_STREAMS][BENCH_SUBJECTS];
static ne_store_reader bench_readers[BENCH_MAX_STREAMS];
static ne_store_consumer bench_consumers[BENCH_MAX_STREAMS];
static ne_store_pending bench_pending[BENCH_MAX_STREAMS][BENCH_PENDING];
static uint8_t bench_snapshot[NE_STORE_CONSUMER_SNAPSHOT_BYTES(BENCH_PENDING)];
static uint8_t bench_buf[8192];

/* RAM a stream with one consumer takes beyond the device, as this benchmark
 * sizes them: the front end, its slot in the device, a subject table, a
 * reader; the consumer's state, its slot, its pending array. */
static size_t ram_per_stream(void)
{
    return sizeof(ne_store) + sizeof(ne_store_slot) + BENCH_SUBJECTS * sizeof(ne_store_subject);
}

static size_t ram_per_consumer(void)
{
    return sizeof(ne_store_consumer) + sizeof(ne_store_slot) + sizeof(ne_store_reader) +
           BENCH_PENDING * sizeof(ne_store_pending);
}

/* S streams with one consumer each on one file-backed device: messages of
 * 128 B appended round-robin over the streams (the write buffer switches
 * logs at every append, the worst case), a sync every 64; then each
 * consumer reads its stream through its own reader and records a delivery
 * and an ack per message (a consumer sync every 64 acks). */
static void bench_streams_run(uint32_t count, uint64_t total)
{
    static const ne_flash_geometry g = {
        .program_bytes = 256, .erase_bytes = 256 * 1024, .block_count = 1024};
    if (count > BENCH_MAX_STREAMS || g.block_count > NE_STORE_MAX_BLOCKS ||
        2 * count + 1 > NE_STORE_MAX_LOGS) {
        printf("streams %u: does not fit these knobs (NE_STORE_MAX_LOGS %u, "
               "NE_STORE_MAX_BLOCKS %u)\n",
               count, NE_STORE_MAX_LOGS, NE_STORE_MAX_BLOCKS);
        return;
    }
    unlink(path);
    int rc = ne_file_flash_open(&ff, path, g);
    if (rc == NE_OK) {
        rc = ne_store_dev_open(&fs, &ff.flash, &table);
    }
    for (uint32_t k = 0; k < count && rc == NE_OK; k++) {
        char name[32];
        int n = snprintf(name, sizeof(name), "STREAM%u", k);
        uint32_t id = 0;
        rc = ne_store_dev_create(&fs, NE_STORE_KIND_STREAM, 0, name, (size_t)n, NULL, 0, &id);
        if (rc == NE_OK) {
            ne_store_config cfg = {.subjects = bench_subjects[k],
                                   .subject_capacity = BENCH_SUBJECTS};
            rc = ne_store_attach(&bench_streams[k], &fs, id, &cfg);
        }
        uint32_t cid = 0;
        if (rc == NE_OK) {
            rc = ne_store_dev_create(&fs, NE_STORE_KIND_CONSUMER, id, "C", 1, NULL, 0, &cid);
        }
        if (rc == NE_OK) {
            ne_store_consumer_config ccfg = {.ack_policy = NE_STORE_ACK_EXPLICIT,
                                             .pending = bench_pending[k],
                                             .pending_capacity = BENCH_PENDING,
                                             .snapshot_buf = bench_snapshot,
                                             .snapshot_bytes = sizeof(bench_snapshot)};
            rc = ne_store_consumer_attach(&bench_consumers[k], &fs, cid, &ccfg);
        }
        ne_store_reader_init(&bench_readers[k]);
    }
    if (rc != NE_OK) {
        die("setting up the streams", rc);
    }
    static uint8_t payload[128];
    char subject[48];
    double start = now_s();
    for (uint64_t n = 0; n < total; n++) {
        uint32_t k = (uint32_t)(n % count);
        make_payload(payload, sizeof(payload), n);
        int slen = snprintf(subject, sizeof(subject), "telemetry.%u.%u", (unsigned)k,
                            (unsigned)(n / count % 10));
        ne_store_msg m = {.subject = subject,
                          .subject_len = (size_t)slen,
                          .payload = payload,
                          .payload_len = sizeof(payload),
                          .timestamp_ns = 1700000000000000000ull + n};
        rc = ne_store_append(&bench_streams[k], &m, NULL);
        if (rc == NE_OK && (n + 1) % 64 == 0) {
            rc = ne_store_dev_sync(&fs);
        }
        if (rc != NE_OK) {
            die("append", rc);
        }
    }
    rc = ne_store_dev_sync(&fs);
    double appended = now_s() - start;
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&fs, &st);
    uint64_t switches = st.buffer_switches;
    uint64_t programmed = st.program_bytes;
    /* Each consumer reads its whole stream, delivering and acking. */
    start = now_s();
    uint64_t read = 0;
    for (uint32_t k = 0; k < count && rc == NE_OK; k++) {
        ne_store_consumer *c = &bench_consumers[k];
        uint64_t from = 1;
        for (uint64_t i = 0; i < total; i++) {
            ne_store_msg m;
            rc = ne_store_read_next(&bench_streams[k], &bench_readers[k], from, NULL, 0, &m,
                                    bench_buf, sizeof(bench_buf));
            if (rc == NE_ERR_NOT_FOUND) {
                rc = NE_OK;
                break;
            }
            if (rc == NE_OK) {
                uint64_t d = c->delivered.consumer_seq + 1;
                rc = ne_store_consumer_delivered(c, d, m.seq, 1, m.timestamp_ns);
            }
            if (rc == NE_OK) {
                rc = ne_store_consumer_ack(c, c->delivered.consumer_seq, m.seq);
            }
            if (rc == NE_OK && (read + 1) % 64 == 0) {
                rc = ne_store_consumer_sync(c);
            }
            from = m.seq + 1;
            read++;
        }
        if (rc == NE_OK) {
            rc = ne_store_consumer_sync(c);
        }
    }
    if (rc != NE_OK) {
        die("reading", rc);
    }
    double consumed = now_s() - start;
    printf("streams %3u (one consumer each): append %8.0f msgs/s (%5.2f MB/s of payload, "
           "%6.2f MB/s programmed, %llu buffer switches), read+deliver+ack %8.0f msgs/s; "
           "RAM: device %zu B + per stream %zu B + per consumer %zu B = %zu B in all\n",
           count, (double)total / appended, (double)total * sizeof(payload) / appended / 1e6,
           (double)programmed / appended / 1e6, (unsigned long long)switches,
           (double)read / consumed, sizeof(ne_store_dev), ram_per_stream(), ram_per_consumer(),
           sizeof(ne_store_dev) + count * (ram_per_stream() + ram_per_consumer()));
    for (uint32_t k = 0; k < count; k++) {
        (void)ne_store_consumer_detach(&bench_consumers[k]);
        (void)ne_store_detach(&bench_streams[k]);
    }
    ne_file_flash_close(&ff);
    unlink(path);
}

/* Long key-value workload on the simulated flash: a few keys written once
 * (cold data that never moves by itself), many keys rewritten all the time. */
static void bench_wear(void)
{
    static ne_sim_flash sim;
    enum { BLOCKS = 64, ERASE = 4096 };
    static uint8_t image[BLOCKS * ERASE];
    static uint32_t counts[BLOCKS];
    ne_flash_geometry g = {.program_bytes = 16, .erase_bytes = ERASE, .block_count = BLOCKS};
    ne_sim_flash_init(&sim, g, image, counts, NULL, 99);
    ne_store_config cfg = {.subjects = subjects, .subject_capacity = 1024};
    cfg.limits.max_msgs_per_subject = 1;
    int rc = open_stream(&sim.flash, &cfg);
    if (rc != NE_OK) {
        die("opening the simulated store", rc);
    }
    static uint8_t payload[200];
    char subject[32];
    const uint64_t updates = 2000000;
    for (uint64_t n = 0; n < updates + 40; n++) {
        make_payload(payload, sizeof(payload), n);
        int slen =
            n < 40 ? snprintf(subject, sizeof(subject), "$KV.cfg.cold%u", (unsigned)n)
                   : snprintf(subject, sizeof(subject), "$KV.state.k%u", (unsigned)(n * 7919 % 50));
        ne_store_msg m = {.subject = subject,
                          .subject_len = (size_t)slen,
                          .payload = payload,
                          .payload_len = sizeof(payload),
                          .timestamp_ns = n};
        rc = ne_store_append(&store, &m, NULL);
        if (rc != NE_OK) {
            die("append", rc);
        }
        if (n % 10 == 9 && (rc = ne_store_sync(&store)) != NE_OK) {
            die("sync", rc);
        }
    }
    ne_store_dev_stats st;
    ne_store_dev_get_stats(&fs, &st);
    uint64_t total = 0;
    for (uint32_t b = 0; b < BLOCKS; b++) {
        total += counts[b];
    }
    printf("wear: %llu updates of 50 hot keys + 40 cold keys, 200 B values, sync every 10, "
           "%u x 4 KiB blocks: erase counts min %u max %u mean %.1f (spread %u, limit %u), "
           "%llu wear-levelling moves, %llu compactions\n",
           (unsigned long long)updates, BLOCKS, st.erase_min, st.erase_max, (double)total / BLOCKS,
           st.erase_max - st.erase_min, NE_STORE_WEAR_SPREAD_MAX, (unsigned long long)st.wear_moves,
           (unsigned long long)st.compactions);
}

int main(int argc, char **argv)
{
    bool sizes = false, append = false, recover = false, wear = false, streams = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--sizes") == 0) {
            sizes = true;
        } else if (strcmp(argv[i], "--append") == 0) {
            append = true;
        } else if (strcmp(argv[i], "--recover") == 0) {
            recover = true;
        } else if (strcmp(argv[i], "--wear") == 0) {
            wear = true;
        } else if (strcmp(argv[i], "--streams") == 0) {
            streams = true;
        } else if (strcmp(argv[i], "--path") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--records") == 0 && i + 1 < argc) {
            recover_records = strtoull(argv[++i], NULL, 10);
        } else {
            fprintf(stderr,
                    "usage: %s [--sizes] [--append] [--recover] [--wear] [--streams] "
                    "[--path FILE] [--records N]\n",
                    argv[0]);
            return 2;
        }
    }
    if (!sizes && !append && !recover && !wear && !streams) {
        sizes = append = recover = wear = streams = true;
    }
    if (sizes) {
        print_sizes();
    }
    if (append) {
        bench_append(128, 1, 3.0);
        bench_append(128, 64, 3.0);
        bench_append(4096, 1, 3.0);
        bench_append(4096, 64, 3.0);
    }
    if (recover) {
        bench_recover();
    }
    if (wear) {
        bench_wear();
    }
    if (streams) {
        bench_streams_run(1, 200000);
        bench_streams_run(16, 200000);
        bench_streams_run(256, 200000);
    }
    return 0;
}
