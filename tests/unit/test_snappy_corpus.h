/* Deterministic test and benchmark corpus for the snappy codec: JSON
 * telemetry lines, English-like text, random bytes, zeros and repeating
 * patterns, generated from a seed so tests and the benchmark need no files.
 * Shared by tests/unit/test_snappy.c, tests/fuzz (seed making) and
 * tools/snappy_bench.c; header-only because each is its own program. */
#ifndef TEST_SNAPPY_CORPUS_H
#define TEST_SNAPPY_CORPUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef enum corpus_kind {
    CORPUS_JSON = 0,
    CORPUS_TEXT,
    CORPUS_RANDOM,
    CORPUS_ZEROS,
    CORPUS_PATTERN,
    CORPUS_KIND_COUNT
} corpus_kind;

static const char *const corpus_kind_names[CORPUS_KIND_COUNT] = {"json", "text", "random", "zeros",
                                                                 "pattern"};

/* xorshift64*: small, fast and good enough to make data look varied. */
static inline uint64_t corpus_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static inline uint32_t corpus_below(uint64_t *state, uint32_t n)
{
    return (uint32_t)((corpus_next(state) >> 32) % n);
}

/* Appends s to buf without passing len; returns the new position. */
static inline size_t corpus_put(uint8_t *buf, size_t len, size_t pos, const char *s, size_t n)
{
    size_t take = n < len - pos ? n : len - pos;
    memcpy(buf + pos, s, take);
    return pos + take;
}

static inline void corpus_json(uint8_t *buf, size_t len, uint64_t *rng)
{
    static const char *const sites[] = {"plant-1", "plant-2", "warehouse-north", "yard",
                                        "substation-7"};
    static const char *const kinds[] = {"temperature", "humidity", "pressure", "vibration", "flow"};
    static const char *const states[] = {"ok", "ok", "ok", "warn", "alarm"};
    size_t pos = 0;
    uint64_t ts = 1700000000000ULL;
    uint32_t seq = 1;
    while (pos < len) {
        char line[320];
        uint32_t dev = corpus_below(rng, 64);
        ts += 1 + corpus_below(rng, 250);
        int n = snprintf(line, sizeof line,
                         "{\"ts\":%llu,\"seq\":%u,\"device\":\"sensor-%04u\",\"site\":\"%s\","
                         "\"kind\":\"%s\",\"value\":%d.%02u,\"unit\":\"%s\",\"battery_pct\":%u,"
                         "\"status\":\"%s\",\"fw\":\"2.4.%u\"}\n",
                         (unsigned long long)ts, seq++, dev, sites[dev % 5], kinds[dev % 5],
                         (int)corpus_below(rng, 120) - 20, corpus_below(rng, 100),
                         dev % 5 == 0   ? "C"
                         : dev % 5 == 1 ? "%"
                                        : "kPa",
                         40 + corpus_below(rng, 60), states[corpus_below(rng, 5)], dev % 3);
        pos = corpus_put(buf, len, pos, line, (size_t)n);
    }
}

static inline void corpus_text(uint8_t *buf, size_t len, uint64_t *rng)
{
    static const char *const words[] = {
        "the",     "of",     "and",     "to",      "a",        "in",      "is",      "it",
        "that",    "was",    "for",     "on",      "are",      "with",    "as",      "be",
        "at",      "one",    "have",    "this",    "from",     "by",      "hot",     "word",
        "but",     "what",   "some",    "we",      "can",      "out",     "other",   "were",
        "all",     "there",  "when",    "up",      "use",      "your",    "how",     "said",
        "an",      "each",   "she",     "which",   "do",       "their",   "time",    "if",
        "will",    "way",    "about",   "many",    "then",     "them",    "write",   "would",
        "like",    "so",     "these",   "her",     "long",     "make",    "thing",   "see",
        "him",     "two",    "has",     "look",    "more",     "day",     "could",   "go",
        "come",    "did",    "number",  "sound",   "no",       "most",    "people",  "my",
        "over",    "know",   "water",   "than",    "call",     "first",   "who",     "may",
        "down",    "side",   "been",    "now",     "find",     "broker",  "message", "gateway",
        "subject", "stream", "network", "storage", "snapshot", "replica", "leader",  "journal"};
    const uint32_t n_words = (uint32_t)(sizeof words / sizeof words[0]);
    size_t pos = 0;
    int start = 1;
    while (pos < len) {
        /* Skewed choice: small indexes (common words) come up far more often. */
        uint32_t limit = 1 + corpus_below(rng, n_words);
        const char *w = words[corpus_below(rng, limit)];
        char tmp[24];
        size_t wl = strlen(w);
        memcpy(tmp, w, wl);
        if (start && tmp[0] >= 'a' && tmp[0] <= 'z') {
            tmp[0] = (char)(tmp[0] - 'a' + 'A');
        }
        start = 0;
        uint32_t r = corpus_below(rng, 100);
        if (r < 8) {
            tmp[wl++] = '.';
            start = 1;
        } else if (r < 12) {
            tmp[wl++] = ',';
        }
        tmp[wl++] = (r == 0) ? '\n' : ' ';
        pos = corpus_put(buf, len, pos, tmp, wl);
    }
}

static inline void corpus_random(uint8_t *buf, size_t len, uint64_t *rng)
{
    size_t i = 0;
    while (i + 8 <= len) {
        uint64_t v = corpus_next(rng);
        memcpy(buf + i, &v, 8);
        i += 8;
    }
    while (i < len) {
        buf[i++] = (uint8_t)corpus_next(rng);
    }
}

/* Runs of short periods (1..40 bytes) with a random byte now and then:
 * exercises overlapping copies with small offsets. */
static inline void corpus_pattern(uint8_t *buf, size_t len, uint64_t *rng)
{
    size_t pos = 0;
    while (pos < len) {
        uint8_t period_bytes[40];
        uint32_t period = 1 + corpus_below(rng, 40);
        for (uint32_t i = 0; i < period; i++) {
            period_bytes[i] = (uint8_t)('a' + corpus_below(rng, 26));
        }
        uint32_t run = 16 + corpus_below(rng, 2000);
        for (uint32_t i = 0; i < run && pos < len; i++) {
            buf[pos++] = period_bytes[i % period];
        }
        if (pos < len) {
            buf[pos++] = (uint8_t)corpus_next(rng);
        }
    }
}

static inline void corpus_fill(corpus_kind kind, uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t rng = seed * 0x9E3779B97F4A7C15ULL + 0x1234567ULL + (uint64_t)kind;
    if (rng == 0) {
        rng = 1;
    }
    switch (kind) {
    case CORPUS_JSON:
        corpus_json(buf, len, &rng);
        break;
    case CORPUS_TEXT:
        corpus_text(buf, len, &rng);
        break;
    case CORPUS_RANDOM:
        corpus_random(buf, len, &rng);
        break;
    case CORPUS_ZEROS:
        memset(buf, 0, len);
        break;
    default:
        corpus_pattern(buf, len, &rng);
        break;
    }
}

#endif
