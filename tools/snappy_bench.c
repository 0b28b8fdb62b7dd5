/* Snappy benchmark: compression and decompression speed (MB/s of
 * uncompressed data) and ratio, ours against Debian's libsnappy, on the same
 * generated corpus (tests/unit/test_snappy_corpus.h). Each figure is the
 * median of several runs; every run is cross-checked (ours decodes
 * libsnappy's output and the reverse) so a fast wrong codec cannot win.
 *
 *   make bench-snappy                      (builds and runs this)
 *   snappy_bench [--runs N] [--mib M]      N runs per figure, M MiB per kind */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <snappy-c.h>

#include "codec/ne_snappy.h"
#include "core/ne_error.h"
#include "tests/unit/test_snappy_corpus.h"

#define MAX_RUNS 31

typedef struct bench_case {
    corpus_kind kind;
    size_t block_bytes; /* the corpus is compressed as independent blocks of this size */
} bench_case;

static const bench_case cases[] = {
    {CORPUS_JSON, 4096},       {CORPUS_JSON, 65536},     {CORPUS_JSON, 1u << 20},
    {CORPUS_TEXT, 4096},       {CORPUS_TEXT, 65536},     {CORPUS_TEXT, 1u << 20},
    {CORPUS_RANDOM, 65536},    {CORPUS_ZEROS, 65536},    {CORPUS_PATTERN, 65536},
    {CORPUS_RANDOM, 1u << 20}, {CORPUS_ZEROS, 1u << 20}, {CORPUS_PATTERN, 1u << 20},
};

static ne_snappy_table table;

/* Thread CPU time rather than wall time: the benchmark shares the machine
 * with builds and tests, and time spent descheduled is not the codec's. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;
    return x < y ? -1 : x > y ? 1 : 0;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
}

static void die(const char *what, size_t block)
{
    fprintf(stderr, "snappy_bench: %s (block %zu)\n", what, block);
    exit(1);
}

/* A corpus cut into blocks, with each codec's compressed form of every block
 * kept side by side so decompression runs over exactly what was produced. */
typedef struct corpus {
    uint8_t *data;
    size_t len;
    size_t block_bytes;
    size_t blocks;
    size_t slot_bytes; /* room per block in the compressed arrays */
    uint8_t *ours;
    size_t *ours_len;
    uint8_t *theirs;
    size_t *theirs_len;
    uint8_t *out;
} corpus;

static void compress_ours(corpus *c)
{
    for (size_t b = 0; b < c->blocks; b++) {
        size_t off = b * c->block_bytes;
        size_t n = c->len - off < c->block_bytes ? c->len - off : c->block_bytes;
        if (ne_snappy_compress(c->data + off, n, c->ours + b * c->slot_bytes, c->slot_bytes,
                               &c->ours_len[b], &table) != NE_OK) {
            die("ne_snappy_compress failed", b);
        }
    }
}

static void compress_theirs(corpus *c)
{
    for (size_t b = 0; b < c->blocks; b++) {
        size_t off = b * c->block_bytes;
        size_t n = c->len - off < c->block_bytes ? c->len - off : c->block_bytes;
        c->theirs_len[b] = c->slot_bytes;
        if (snappy_compress((const char *)c->data + off, n, (char *)c->theirs + b * c->slot_bytes,
                            &c->theirs_len[b]) != SNAPPY_OK) {
            die("snappy_compress failed", b);
        }
    }
}

/* Decompresses one codec's blocks with one decoder (ours when use_ours). */
static void decompress(corpus *c, const uint8_t *blocks, const size_t *lens, int use_ours)
{
    for (size_t b = 0; b < c->blocks; b++) {
        size_t off = b * c->block_bytes;
        size_t n = c->len - off < c->block_bytes ? c->len - off : c->block_bytes;
        size_t got = n;
        const uint8_t *in = blocks + b * c->slot_bytes;
        if (use_ours) {
            if (ne_snappy_decompress(in, lens[b], c->out + off, n, &got) != NE_OK) {
                die("ne_snappy_decompress failed", b);
            }
        } else if (snappy_uncompress((const char *)in, lens[b], (char *)c->out + off, &got) !=
                   SNAPPY_OK) {
            die("snappy_uncompress failed", b);
        }
        if (got != n) {
            die("wrong decompressed length", b);
        }
    }
}

static size_t total(const size_t *lens, size_t n)
{
    size_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += lens[i];
    }
    return sum;
}

static void check_output(const corpus *c, const char *what)
{
    if (memcmp(c->out, c->data, c->len) != 0) {
        fprintf(stderr, "snappy_bench: %s produced wrong data\n", what);
        exit(1);
    }
}

/* MB/s below are 10^6 bytes of uncompressed data per second. */
typedef enum op_kind { OP_COMP_OURS, OP_COMP_THEIRS, OP_DEC_OURS, OP_DEC_THEIRS } op_kind;

static void run_op(corpus *c, op_kind op)
{
    switch (op) {
    case OP_COMP_OURS:
        compress_ours(c);
        break;
    case OP_COMP_THEIRS:
        compress_theirs(c);
        break;
    case OP_DEC_OURS:
        decompress(c, c->ours, c->ours_len, 1);
        break;
    case OP_DEC_THEIRS:
        decompress(c, c->theirs, c->theirs_len, 0);
        break;
    }
}

/* One timed run: repeats op until at least min_s passed, returns MB/s. */
static double time_once(corpus *c, op_kind op, double min_s)
{
    int reps = 0;
    double start = now_s();
    double elapsed;
    do {
        run_op(c, op);
        reps++;
        elapsed = now_s() - start;
    } while (elapsed < min_s);
    return (double)c->len * reps / elapsed / 1e6;
}

/* Times ours and libsnappy's op in alternating runs, so that a noisy machine
 * (other builds, frequency changes) slows both alike; medians of each. */
static void time_pair(corpus *c, op_kind ours, op_kind theirs, int runs, double min_s,
                      double *ours_mbs, double *theirs_mbs)
{
    double a[MAX_RUNS];
    double b[MAX_RUNS];
    for (int r = 0; r < runs; r++) {
        a[r] = time_once(c, ours, min_s);
        b[r] = time_once(c, theirs, min_s);
    }
    *ours_mbs = median(a, runs);
    *theirs_mbs = median(b, runs);
}

int main(int argc, char **argv)
{
    int runs = 7;
    size_t mib = 4;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--runs") == 0) {
            runs = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--mib") == 0) {
            mib = (size_t)atoi(argv[i + 1]);
        }
    }
    if (runs < 1 || runs > MAX_RUNS || mib < 1 || mib > 256) {
        fprintf(stderr, "usage: snappy_bench [--runs 1..%d] [--mib 1..256]\n", MAX_RUNS);
        return 2;
    }
    const double min_s = 0.05;

    printf("snappy codec benchmark: ours (natsedge) vs libsnappy %s, %zu MiB per case, "
           "median of %d runs\n",
           "(Debian libsnappy1v5)", mib, runs);
    printf("MB/s = 10^6 uncompressed bytes per second of thread CPU time; ratio = compressed / "
           "original\n\n");
    printf("%-8s %7s | %7s %7s | %8s %8s %5s | %8s %8s %5s\n", "corpus", "block", "ratio", "ratio",
           "comp", "comp", "", "decomp", "decomp", "");
    printf("%-8s %7s | %7s %7s | %8s %8s %5s | %8s %8s %5s\n", "", "", "ours", "lib", "ours", "lib",
           "o/l", "ours", "lib", "o/l");
    printf("---------------------------------------------------------------------------------"
           "-------\n");

    double worst_comp = 1e9;
    double worst_dec = 1e9;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        corpus c;
        memset(&c, 0, sizeof c);
        c.len = mib << 20;
        c.block_bytes = cases[k].block_bytes;
        c.blocks = (c.len + c.block_bytes - 1) / c.block_bytes;
        c.slot_bytes = snappy_max_compressed_length(c.block_bytes);
        c.data = malloc(c.len);
        c.out = malloc(c.len);
        c.ours = malloc(c.blocks * c.slot_bytes);
        c.theirs = malloc(c.blocks * c.slot_bytes);
        c.ours_len = calloc(c.blocks, sizeof(size_t));
        c.theirs_len = calloc(c.blocks, sizeof(size_t));
        if (!c.data || !c.out || !c.ours || !c.theirs || !c.ours_len || !c.theirs_len) {
            fprintf(stderr, "snappy_bench: out of memory\n");
            return 1;
        }
        corpus_fill(cases[k].kind, c.data, c.len, 42);

        /* Cross-check both ways before timing anything. */
        compress_ours(&c);
        compress_theirs(&c);
        memset(c.out, 0xa5, c.len);
        decompress(&c, c.ours, c.ours_len, 0);
        check_output(&c, "libsnappy decoding ours");
        memset(c.out, 0xa5, c.len);
        decompress(&c, c.theirs, c.theirs_len, 1);
        check_output(&c, "ours decoding libsnappy");

        double comp_ours, comp_lib, dec_ours, dec_lib;
        time_pair(&c, OP_COMP_OURS, OP_COMP_THEIRS, runs, min_s, &comp_ours, &comp_lib);
        time_pair(&c, OP_DEC_OURS, OP_DEC_THEIRS, runs, min_s, &dec_ours, &dec_lib);
        /* The last decode was libsnappy's of its own blocks. */
        check_output(&c, "libsnappy decoding libsnappy");

        double ratio_ours = (double)total(c.ours_len, c.blocks) / (double)c.len;
        double ratio_lib = (double)total(c.theirs_len, c.blocks) / (double)c.len;
        char block[16];
        if (c.block_bytes >= (1u << 20)) {
            snprintf(block, sizeof block, "%zuM", c.block_bytes >> 20);
        } else {
            snprintf(block, sizeof block, "%zuK", c.block_bytes >> 10);
        }
        printf("%-8s %7s | %7.4f %7.4f | %8.0f %8.0f %5.2f | %8.0f %8.0f %5.2f\n",
               corpus_kind_names[cases[k].kind], block, ratio_ours, ratio_lib, comp_ours, comp_lib,
               comp_ours / comp_lib, dec_ours, dec_lib, dec_ours / dec_lib);
        fflush(stdout);
        if (comp_ours / comp_lib < worst_comp) {
            worst_comp = comp_ours / comp_lib;
        }
        if (dec_ours / dec_lib < worst_dec) {
            worst_dec = dec_ours / dec_lib;
        }
        free(c.data);
        free(c.out);
        free(c.ours);
        free(c.theirs);
        free(c.ours_len);
        free(c.theirs_len);
    }
    printf(
        "\nlowest ours/libsnappy speed: compression %.2fx, decompression %.2fx (goal >= 0.80x)\n",
        worst_comp, worst_dec);
    return 0;
}
