/* libFuzzer harness for the subject rules and the subject trie.
 *
 * The input is a program of operations on two sublists sharing one trie:
 * insert a subscription built from the input (some subjects valid, some
 * not, some with over-long tokens or too many tokens), remove one, match a
 * published subject, or check the subject functions against a naive
 * reference written here from the rules. Every match is compared with
 * ne_subject_matches over every inserted entry of that sublist (exactly the
 * same set, queue members grouped by name); the trie is checked with
 * ne_trie_check as it goes, and after each input everything is removed and
 * the node pool must be back to the two roots. Any difference aborts. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ne_error.h"
#include "core/ne_subject.h"
#include "sublist/ne_sublist.h"

#define SLOTS 64
#define TEXT_BYTES 160

static ne_trie trie;
static ne_sublist lists[2];
static ne_match_result res;
static ne_sub_entry subs[SLOTS];
static char texts[SLOTS][TEXT_BYTES];
static bool inserted[SLOTS];
static bool ready;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct reader {
    const uint8_t *data;
    size_t size;
    size_t pos;
} reader;

static uint8_t next_byte(reader *r)
{
    return r->pos < r->size ? r->data[r->pos++] : 0;
}

/* Bytes chosen so that tokens collide often and every rule is met: dots,
 * wildcards, wildcard characters inside tokens, white space. */
static const char alphabet[16] = {'a', 'b', 'c', '.', '.', '*', '>', 'a',
                                  'b', '.', 'x', '*', '>', '.', ' ', '\f'};
static const char no_dot[8] = {'a', 'b', 'a', 'b', '*', '>', 'c', 'x'};

/* A subject from the input: mode 0-1 plain bytes, 2 long tokens (past
 * NE_TOKEN_BYTES), 3 many one-byte tokens (past NE_MAX_SUBJECT_TOKENS). */
static size_t make_subject(reader *r, char *out, size_t cap)
{
    uint8_t lb = next_byte(r);
    size_t len = 0;
    switch (lb >> 6) {
    case 0:
    case 1:
        for (size_t i = 0; i < (size_t)(lb & 63) && len < cap; i++) {
            uint8_t b = next_byte(r);
            out[len++] = b >= 0xf0 ? (char)b : alphabet[b & 15];
        }
        break;
    case 2: {
        size_t n = (size_t)(lb & 63) + 20;
        uint8_t b = next_byte(r);
        for (size_t i = 0; i < n && len < cap; i++) {
            /* An optional dot near the start, then one long token. */
            out[len++] = (i == 1 && (b & 1)) ? '.' : no_dot[(b + i) & 7];
        }
        break;
    }
    default: {
        size_t tokens = (size_t)(lb & 63) + 1;
        for (size_t t = 0; t < tokens && len + 2 <= cap; t++) {
            if (t > 0) {
                out[len++] = '.';
            }
            out[len++] = no_dot[next_byte(r) & 7];
        }
        break;
    }
    }
    return len;
}

/* ---- A naive reference of the rules ------------------------------------- */

typedef struct ref_tokens {
    size_t count;
    const char *ptr[TEXT_BYTES + 1];
    size_t len[TEXT_BYTES + 1];
} ref_tokens;

static void ref_split(const char *s, size_t len, ref_tokens *t)
{
    t->count = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            t->ptr[t->count] = s + start;
            t->len[t->count] = i - start;
            t->count++;
            start = i + 1;
        }
    }
}

static bool ref_is(const ref_tokens *t, size_t i, char c)
{
    return t->len[i] == 1 && t->ptr[i][0] == c;
}

static bool ref_valid(const char *s, size_t len, bool literal)
{
    if (len == 0) {
        return false;
    }
    ref_tokens t;
    ref_split(s, len, &t);
    for (size_t i = 0; i < t.count; i++) {
        if (t.len[i] == 0) {
            return false;
        }
        for (size_t k = 0; k < t.len[i]; k++) {
            char c = t.ptr[i][k];
            if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f') {
                return false;
            }
        }
        if (literal && (ref_is(&t, i, '*') || ref_is(&t, i, '>'))) {
            return false;
        }
        if (ref_is(&t, i, '>') && i + 1 != t.count) {
            return false;
        }
    }
    return true;
}

static bool ref_matches(const char *f, size_t flen, const char *s, size_t slen)
{
    if (!ref_valid(f, flen, false) || slen == 0) {
        return false;
    }
    ref_tokens ft, st;
    ref_split(f, flen, &ft);
    ref_split(s, slen, &st);
    for (size_t i = 0; i < st.count; i++) {
        if (st.len[i] == 0) {
            return false;
        }
    }
    for (size_t i = 0; i < ft.count; i++) {
        if (i >= st.count) {
            return false;
        }
        if (ref_is(&ft, i, '>')) {
            return true;
        }
        if (!ref_is(&ft, i, '*') &&
            (ft.len[i] != st.len[i] || memcmp(ft.ptr[i], st.ptr[i], ft.len[i]) != 0)) {
            return false;
        }
    }
    return ft.count == st.count;
}

static int ref_insert_result(const char *s, size_t len)
{
    if (!ref_valid(s, len, false)) {
        return NE_ERR_INVALID;
    }
    ref_tokens t;
    ref_split(s, len, &t);
    if (t.count > NE_MAX_SUBJECT_TOKENS) {
        return NE_ERR_TOO_BIG;
    }
    for (size_t i = 0; i < t.count; i++) {
        if (t.len[i] > NE_TOKEN_BYTES) {
            return NE_ERR_TOO_BIG;
        }
    }
    return NE_OK;
}

/* ---- Operations --------------------------------------------------------- */

static void op_insert(reader *r)
{
    uint32_t k = next_byte(r) % SLOTS;
    if (inserted[k]) {
        ne_sublist_remove(&lists[k & 1], &subs[k]);
        inserted[k] = false;
        return;
    }
    static const char *const queues[] = {NULL, NULL, "q", "r", "*", "q.r"};
    size_t len = make_subject(r, texts[k], TEXT_BYTES);
    const char *q = queues[next_byte(r) % 6];
    memset(&subs[k], 0, sizeof(subs[k]));
    subs[k].subject = texts[k];
    subs[k].subject_len = (uint16_t)len;
    subs[k].queue = q;
    subs[k].queue_len = q != NULL ? (uint16_t)strlen(q) : 0;
    uint32_t in_use = trie.pool.in_use;
    int rc = ne_sublist_insert(&lists[k & 1], &subs[k]);
    CHECK(rc == ref_insert_result(texts[k], len));
    if (rc == NE_OK) {
        inserted[k] = true;
    } else {
        CHECK(trie.pool.in_use == in_use);
    }
}

static bool same_name(const ne_sub_entry *a, const ne_sub_entry *b)
{
    return a->queue_len == b->queue_len && memcmp(a->queue, b->queue, a->queue_len) == 0;
}

static void check_groups(void)
{
    uint32_t next = 0;
    for (uint32_t g = 0; g < res.group_count; g++) {
        CHECK(res.groups[g].start == next && res.groups[g].count > 0);
        const ne_sub_entry *first = res.queue[next];
        CHECK(first->queue_len > 0);
        for (uint32_t m = 0; m < res.groups[g].count; m++) {
            CHECK(same_name(res.queue[next + m], first));
        }
        for (uint32_t h = 0; h < g; h++) {
            CHECK(!same_name(res.queue[res.groups[h].start], first));
        }
        next += res.groups[g].count;
    }
    CHECK(next == res.queue_count);
}

static uint32_t found(const ne_sub_entry *e)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < res.plain_count; i++) {
        n += res.plain[i] == e;
    }
    for (uint32_t i = 0; i < res.queue_count; i++) {
        n += res.queue[i] == e;
    }
    return n;
}

static void op_match(reader *r)
{
    char subject[TEXT_BYTES];
    uint32_t which = next_byte(r) & 1;
    size_t len = make_subject(r, subject, sizeof(subject));
    ne_sublist_match(&lists[which], subject, len, &res);
    CHECK(!res.overflow); /* SLOTS is far below NE_MAX_FANOUT */
    check_groups();
    uint32_t want = 0;
    for (uint32_t k = 0; k < SLOTS; k++) {
        bool m = inserted[k] && (k & 1) == which &&
                 ne_subject_matches(subs[k].subject, subs[k].subject_len, subject, len);
        CHECK(found(&subs[k]) == (m ? 1u : 0u));
        want += m;
    }
    CHECK(res.plain_count + res.queue_count == want);
}

static void op_rules(reader *r)
{
    char a[TEXT_BYTES], b[TEXT_BYTES], s[TEXT_BYTES];
    size_t alen = make_subject(r, a, sizeof(a));
    size_t blen = make_subject(r, b, sizeof(b));
    size_t slen = make_subject(r, s, sizeof(s));
    CHECK(ne_subject_valid(a, alen) == ref_valid(a, alen, false));
    CHECK(ne_subject_valid_literal(a, alen) == ref_valid(a, alen, true));
    ref_tokens t;
    ref_split(a, alen, &t);
    CHECK(ne_subject_token_count(a, alen) == (alen == 0 ? 0 : t.count));
    bool am = ne_subject_matches(a, alen, s, slen);
    CHECK(am == ref_matches(a, alen, s, slen));
    CHECK(ne_subject_matches(b, blen, s, slen) == ref_matches(b, blen, s, slen));
    bool subset = ne_subject_is_subset(a, alen, b, blen);
    if (subset) {
        /* Whatever a matches, b matches; a is valid and so is b. */
        CHECK(!am || ne_subject_matches(b, blen, s, slen));
        CHECK(ref_valid(a, alen, false) && ref_valid(b, blen, false));
    }
    if (ref_valid(a, alen, false)) {
        CHECK(ne_subject_is_subset(a, alen, a, alen));
        CHECK(ne_subject_is_subset(a, alen, ">", 1) == true);
    }
    /* A valid literal subject is matched by itself and is a subset of
     * every filter that matches it. */
    if (ref_valid(s, slen, true)) {
        CHECK(ne_subject_matches(s, slen, s, slen));
        CHECK(ne_subject_is_subset(s, slen, a, alen) == am);
    }
}

static void setup_once(void)
{
    if (ready) {
        return;
    }
    ne_trie_init(&trie);
    CHECK(ne_sublist_init(&lists[0], &trie) == NE_OK);
    CHECK(ne_sublist_init(&lists[1], &trie) == NE_OK);
    ready = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_once();
    reader r = {data, size, 0};
    /* Bounded by the input: every operation consumes at least one byte. */
    for (uint32_t op = 0; r.pos < r.size; op++) {
        switch (next_byte(&r) % 4) {
        case 0:
        case 1:
            op_insert(&r);
            break;
        case 2:
            op_match(&r);
            break;
        default:
            op_rules(&r);
            break;
        }
        if (op % 64 == 63) {
            CHECK(ne_trie_check(&trie));
        }
    }
    CHECK(ne_trie_check(&trie));
    for (uint32_t k = 0; k < SLOTS; k++) {
        if (inserted[k]) {
            ne_sublist_remove(&lists[k & 1], &subs[k]);
            inserted[k] = false;
        }
    }
    CHECK(lists[0].count == 0 && lists[1].count == 0);
    /* Pruned back to the two roots (the walk of ne_trie_check above already
     * vouched for the structure; it is the slow part of an input). */
    CHECK(trie.pool.in_use == 2 && trie.slots_used == 0);
    return 0;
}
