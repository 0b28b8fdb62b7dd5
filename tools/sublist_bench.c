/* Subject trie benchmark: matches per second over 1,000 subscriptions.
 * Not part of `make test`. Build and run (host, -O2, default profile):
 *
 *   mkdir -p build/sublist-bench && cc -std=c11 -O2 -D_GNU_SOURCE -Iconfig -Isrc -I. \
 *       -o build/sublist-bench/sublist_bench tools/sublist_bench.c \
 *       src/sublist/ne_sublist.c src/core/ne_subject.c src/core/ne_pool.c
 *   build/sublist-bench/sublist_bench [--wide] [--matches N] [--runs R]
 *
 * The subscriptions look like an edge site's: per-device literals, '*' per
 * measurement, '>' per site, a few catch-alls and queue groups of services.
 * Published subjects cycle through 4,096 literal subjects of which about
 * three quarters match something. Each figure is the median of R runs. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sublist/ne_sublist.h"

#define SUBS 1000
#define SUBJECTS 4096
#define TEXT_BYTES 64

static ne_trie trie;
static ne_sublist sl;
static ne_match_result res;
static ne_sub_entry entries[SUBS];
static char sub_text[SUBS][TEXT_BYTES];
static char pub_text[SUBJECTS][TEXT_BYTES];
static size_t pub_len[SUBJECTS];

void ne_port_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}

static uint32_t rng_state = 12345;

static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

static const char *const measures[] = {"temp", "humidity", "pressure", "state", "cmd"};

static void add(uint32_t i, const char *queue)
{
    entries[i].subject = sub_text[i];
    entries[i].subject_len = (uint16_t)strlen(sub_text[i]);
    entries[i].queue = queue;
    entries[i].queue_len = queue != NULL ? (uint16_t)strlen(queue) : 0;
    if (ne_sublist_insert(&sl, &entries[i]) != 0) {
        fprintf(stderr, "insert failed: %s\n", sub_text[i]);
        exit(1);
    }
}

/* --wide: one node with a thousand children ("dev.<n>.temp"), where a
 * linear scan of siblings would cost most. */
static void build_wide(void)
{
    for (uint32_t i = 0; i < SUBS; i++) {
        snprintf(sub_text[i], TEXT_BYTES, "dev.%u.temp", i);
        add(i, NULL);
    }
    for (uint32_t s = 0; s < SUBJECTS; s++) {
        snprintf(pub_text[s], TEXT_BYTES, "dev.%u.temp", rng() % (SUBS + SUBS / 4));
        pub_len[s] = strlen(pub_text[s]);
    }
}

static void build(bool wide)
{
    memset(&trie, 0, sizeof(trie)); /* ne_trie_init takes a cleared trie */
    ne_trie_init(&trie);
    if (ne_sublist_init(&sl, &trie) != 0) {
        exit(1);
    }
    if (wide) {
        build_wide();
        return;
    }
    uint32_t i = 0;
    /* 700 literals: 20 sites x 35 devices, one measurement each. */
    for (; i < 700; i++) {
        snprintf(sub_text[i], TEXT_BYTES, "site.%u.dev.%u.%s", i % 20, i / 20, measures[i % 5]);
        add(i, NULL);
    }
    /* 200 '*': every device of a site, one measurement. */
    for (; i < 900; i++) {
        snprintf(sub_text[i], TEXT_BYTES, "site.%u.dev.*.%s", i % 20, measures[(i / 20) % 5]);
        add(i, NULL);
    }
    /* 40 '>': a site's whole tree. */
    for (; i < 940; i++) {
        snprintf(sub_text[i], TEXT_BYTES, "site.%u.>", i % 20);
        add(i, NULL);
    }
    /* 50 queue members: 10 services, 5 workers each. */
    static char groups[10][16];
    for (; i < 990; i++) {
        uint32_t svc = (i - 940) % 10;
        snprintf(groups[svc], sizeof(groups[svc]), "workers%u", svc);
        snprintf(sub_text[i], TEXT_BYTES, "svc.%u.req", svc);
        add(i, groups[svc]);
    }
    /* 10 catch-alls and monitors. */
    for (; i < SUBS; i++) {
        snprintf(sub_text[i], TEXT_BYTES, i % 2 ? "$SYS.>" : "svc.*.req");
        add(i, NULL);
    }
    for (uint32_t s = 0; s < SUBJECTS; s++) {
        uint32_t r = rng() % 8;
        if (r < 5) {
            snprintf(pub_text[s], TEXT_BYTES, "site.%u.dev.%u.%s", rng() % 24, rng() % 40,
                     measures[rng() % 5]);
        } else if (r < 6) {
            snprintf(pub_text[s], TEXT_BYTES, "svc.%u.req", rng() % 12);
        } else if (r < 7) {
            snprintf(pub_text[s], TEXT_BYTES, "$SYS.SERVER.%u.PING", rng() % 4);
        } else {
            snprintf(pub_text[s], TEXT_BYTES, "other.%u.thing", rng() % 100);
        }
        pub_len[s] = strlen(pub_text[s]);
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long matches = 5000000, runs = 5;
    bool wide = false, bad = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--wide") == 0) {
            wide = true;
        } else if (strcmp(argv[i], "--matches") == 0 && i + 1 < argc) {
            matches = atol(argv[++i]);
        } else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
            runs = atol(argv[++i]);
        } else {
            bad = true;
        }
    }
    if (bad || matches <= 0 || runs <= 0 || runs > 64) {
        fprintf(stderr, "usage: %s [--wide] [--matches N] [--runs R<=64]\n", argv[0]);
        return 2;
    }
    build(wide);
    double rate[64];
    unsigned long long delivered = 0, hit = 0;
    for (long r = 0; r < runs; r++) {
        double t0 = now_s();
        for (long m = 0; m < matches; m++) {
            uint32_t s = (uint32_t)m & (SUBJECTS - 1);
            ne_sublist_match(&sl, pub_text[s], pub_len[s], &res);
            delivered += res.plain_count + res.group_count;
            hit += res.plain_count + res.queue_count > 0;
        }
        rate[r] = (double)matches / (now_s() - t0);
    }
    qsort(rate, (size_t)runs, sizeof(rate[0]), cmp_double);
    printf("sublist_bench%s: %d subscriptions (%u trie nodes), %d subjects\n",
           wide ? " --wide" : "", SUBS, (unsigned)trie.pool.in_use, SUBJECTS);
    printf("  %.2f M matches/s (median of %ld runs of %ld; min %.2f, max %.2f)\n",
           rate[runs / 2] / 1e6, runs, matches, rate[0] / 1e6, rate[runs - 1] / 1e6);
    printf("  %.1f%% of subjects matched, %.2f deliveries per match\n",
           100.0 * (double)hit / ((double)matches * (double)runs),
           (double)delivered / ((double)matches * (double)runs));
    for (uint32_t i = 0; i < SUBS; i++) {
        ne_sublist_remove(&sl, &entries[i]);
    }
    ne_sublist_deinit(&sl);
    return trie.pool.in_use == 0 ? 0 : 1;
}
