/* Unit tests of the subject trie (src/sublist/ne_sublist.c): insert, match
 * and remove with literal, '*' and '>' subscriptions, queue grouping, node
 * pruning, exhaustion, overflow, isolation of sublists sharing a trie, and a
 * randomized comparison against ne_subject_matches.
 *
 * Compiled against the default configuration (NE_MAX_TRIE_NODES and friends
 * as shipped). After each test the trie is consistent (ne_trie_check) and its
 * node pool is back to idle: only the test sublist's root. IDs refer to
 * shared/reference/nats-inventory.md (1.9, 1.10). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "core/ne_subject.h"
#include "sublist/ne_sublist.h"

static ne_trie trie;
static ne_sublist sl;
static ne_match_result res;

/* Entries and their subject text for the tests that need many. */
#define MANY_(a, b) ((a) > (b) ? (a) : (b))
#define MANY (MANY_(MANY_(NE_MAX_TRIE_NODES, NE_MAX_FANOUT), 2 * NE_MAX_MATCH_QUEUE_GROUPS) + 16)
#define TEXT_BYTES 24
static ne_sub_entry many[MANY];
static char many_text[MANY][TEXT_BYTES];

static int setup(void **state)
{
    (void)state;
    ne_trie_init(&trie);
    assert_int_equal(ne_sublist_init(&sl, &trie), NE_OK);
    assert_int_equal(trie.pool.in_use, 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    /* Leak check after every test (STYLE.md): only the root is left. */
    assert_true(ne_trie_check(&trie));
    assert_int_equal(sl.count, 0);
    assert_int_equal(trie.pool.in_use, 1);
    assert_int_equal(trie.slots_used, 0);
    ne_sublist_deinit(&sl);
    assert_int_equal(trie.pool.in_use, 0);
    return 0;
}

static ne_sub_entry entry(const char *subject, const char *queue)
{
    ne_sub_entry e;
    memset(&e, 0, sizeof(e));
    e.subject = subject;
    e.subject_len = (uint16_t)strlen(subject);
    e.queue = queue;
    e.queue_len = queue != NULL ? (uint16_t)strlen(queue) : 0;
    return e;
}

static int insert(ne_sub_entry *e)
{
    return ne_sublist_insert(&sl, e);
}

static void match(const char *subject)
{
    ne_sublist_match(&sl, subject, strlen(subject), &res);
}

/* How often e appears in the last result (plain and queue). */
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

static uint32_t total(void)
{
    return res.plain_count + res.queue_count;
}

static bool same_name(const ne_sub_entry *a, const ne_sub_entry *b)
{
    return a->queue_len == b->queue_len && memcmp(a->queue, b->queue, a->queue_len) == 0;
}

/* The result's groups tile queue[] in order, each holds one name, and no
 * two groups share one. */
static void assert_groups_well_formed(void)
{
    uint32_t next = 0;
    for (uint32_t g = 0; g < res.group_count; g++) {
        assert_int_equal(res.groups[g].start, next);
        assert_true(res.groups[g].count > 0);
        const ne_sub_entry *first = res.queue[res.groups[g].start];
        assert_true(first->queue_len > 0);
        for (uint32_t k = 0; k < res.groups[g].count; k++) {
            assert_true(same_name(res.queue[res.groups[g].start + k], first));
        }
        for (uint32_t h = 0; h < g; h++) {
            assert_false(same_name(res.queue[res.groups[h].start], first));
        }
        next += res.groups[g].count;
    }
    assert_int_equal(next, res.queue_count);
}

/* The group of the last result holding queue name q, or -1. */
static int group_named(const char *q)
{
    for (uint32_t g = 0; g < res.group_count; g++) {
        const ne_sub_entry *first = res.queue[res.groups[g].start];
        if (first->queue_len == strlen(q) && memcmp(first->queue, q, first->queue_len) == 0) {
            return (int)g;
        }
    }
    return -1;
}

/* ---- Validation on insert ------------------------------------------------ */

static void test_insert_refuses_invalid_subjects_and_takes_no_node_CP53_CP54(void **state)
{
    (void)state;
    static const char *const bad[] = {"",          ".",        "foo.",  ".foo", "foo..bar",
                                      "foo.>.bar", ">.foo",    "a b",   "a\tb", "a.\r",
                                      "\n",        "foo.\f.x", "foo. ", ">.>"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ne_sub_entry e = entry(bad[i], NULL);
        assert_int_equal(insert(&e), NE_ERR_INVALID);
        ne_sub_entry q = entry(bad[i], "q");
        assert_int_equal(insert(&q), NE_ERR_INVALID);
    }
    assert_int_equal(trie.pool.in_use, 1);
    assert_int_equal(sl.count, 0);
    assert_int_equal(sl.generation, 0);
}

static void test_insert_refuses_long_tokens_and_deep_subjects_with_too_big(void **state)
{
    (void)state;
    char text[NE_TOKEN_BYTES * 2 + 8];
    memset(text, 'x', sizeof(text));
    /* A token of exactly NE_TOKEN_BYTES is fine, one byte more is not. */
    ne_sub_entry fits = {.subject = text, .subject_len = NE_TOKEN_BYTES};
    assert_int_equal(insert(&fits), NE_OK);
    ne_sub_entry longer = {.subject = text, .subject_len = NE_TOKEN_BYTES + 1};
    assert_int_equal(insert(&longer), NE_ERR_TOO_BIG);
    ne_sublist_remove(&sl, &fits); /* before its text changes */
    memcpy(text, "a.", 2);
    ne_sub_entry second_long = {.subject = text, .subject_len = NE_TOKEN_BYTES + 3};
    assert_int_equal(insert(&second_long), NE_ERR_TOO_BIG);
    assert_int_equal(trie.pool.in_use, 1);

    /* NE_MAX_SUBJECT_TOKENS tokens are fine, one more is not. */
    char deep[NE_MAX_SUBJECT_TOKENS * 2 + 4];
    for (size_t i = 0; i < sizeof(deep); i += 2) {
        deep[i] = 't';
        deep[i + 1] = '.';
    }
    ne_sub_entry max = {.subject = deep, .subject_len = NE_MAX_SUBJECT_TOKENS * 2 - 1};
    assert_int_equal(insert(&max), NE_OK);
    ne_sub_entry over = {.subject = deep, .subject_len = NE_MAX_SUBJECT_TOKENS * 2 + 1};
    assert_int_equal(insert(&over), NE_ERR_TOO_BIG);
    assert_int_equal(sl.count, 1);
    ne_sublist_match(&sl, deep, NE_MAX_SUBJECT_TOKENS * 2 - 1, &res);
    assert_int_equal(found(&max), 1);
    ne_sublist_remove(&sl, &max);
}

/* ---- Matching ------------------------------------------------------------ */

static void test_match_cache_answers_repeats_and_forgets_on_change(void **state)
{
    (void)state;
    ne_sub_entry a = entry("cache.x", NULL);
    ne_sub_entry b = entry("cache.*", NULL);
    assert_int_equal(insert(&a), NE_OK);
    match("cache.x");
    match("cache.x");
    assert_int_equal(sl.cache_hits, 1);
    assert_int_equal(res.plain_count, 1);
    assert_true(ne_sublist_cache_valid(&sl));
    /* An insert changes the answer: the cache must not give the old one. */
    assert_int_equal(insert(&b), NE_OK);
    assert_false(ne_sublist_cache_valid(&sl));
    match("cache.x");
    assert_int_equal(sl.cache_hits, 1);
    assert_int_equal(res.plain_count, 2);
    /* Another subject, then the first again: a walk each time. */
    match("cache.y");
    assert_int_equal(res.plain_count, 1);
    match("cache.x");
    assert_int_equal(sl.cache_hits, 1);
    assert_int_equal(res.plain_count, 2);
    /* The result buffer filled by another sublist is not reused. */
    ne_sublist other;
    assert_int_equal(ne_sublist_init(&other, &trie), NE_OK);
    ne_sublist_match(&other, "cache.x", 7, &res);
    assert_int_equal(total(), 0);
    match("cache.x");
    assert_int_equal(sl.cache_hits, 1);
    assert_int_equal(res.plain_count, 2);
    ne_sublist_deinit(&other);
    /* A removal too. */
    ne_sublist_remove(&sl, &b);
    match("cache.x");
    assert_int_equal(res.plain_count, 1);
    assert_ptr_equal(res.plain[0], &a);
    match("cache.x");
    assert_int_equal(sl.cache_hits, 2);
    ne_sublist_remove(&sl, &a);
    match("cache.x");
    assert_int_equal(total(), 0);
}

static void test_literal_subscription_matches_only_its_subject(void **state)
{
    (void)state;
    ne_sub_entry e = entry("foo.bar", NULL);
    assert_int_equal(insert(&e), NE_OK);
    match("foo.bar");
    assert_int_equal(res.plain_count, 1);
    assert_ptr_equal(res.plain[0], &e);
    assert_int_equal(res.queue_count, 0);
    assert_int_equal(res.group_count, 0);
    assert_false(res.overflow);
    match("foo");
    assert_int_equal(total(), 0);
    match("foo.bar.baz");
    assert_int_equal(total(), 0);
    match("foo.BAR"); /* CP-56: case-sensitive */
    assert_int_equal(total(), 0);
    match("foo.ba");
    assert_int_equal(total(), 0);
    ne_sublist_remove(&sl, &e);
}

static void test_star_subscription_matches_exactly_one_token_CP54(void **state)
{
    (void)state;
    ne_sub_entry e = entry("foo.*.baz", NULL);
    assert_int_equal(insert(&e), NE_OK);
    match("foo.bar.baz");
    assert_int_equal(found(&e), 1);
    match("foo.x.baz");
    assert_int_equal(found(&e), 1);
    match("foo.baz");
    assert_int_equal(total(), 0);
    match("foo.a.b.baz");
    assert_int_equal(total(), 0);
    match("foo.bar.baz.qux");
    assert_int_equal(total(), 0);
    ne_sublist_remove(&sl, &e);
}

static void test_full_wildcard_subscription_matches_one_or_more_tokens_CP55(void **state)
{
    (void)state;
    ne_sub_entry e = entry("foo.>", NULL);
    assert_int_equal(insert(&e), NE_OK);
    match("foo");
    assert_int_equal(total(), 0);
    match("foo.bar");
    assert_int_equal(found(&e), 1);
    match("foo.bar.baz.qux");
    assert_int_equal(found(&e), 1);
    match("bar.foo");
    assert_int_equal(total(), 0);
    ne_sublist_remove(&sl, &e);
}

static void test_lone_full_wildcard_matches_every_subject_including_dollar_CP55(void **state)
{
    (void)state;
    ne_sub_entry e = entry(">", NULL);
    assert_int_equal(insert(&e), NE_OK);
    static const char *const subjects[] = {"foo", "foo.bar", "$SYS.SERVER.PING", "$JS.API.INFO",
                                           "_INBOX.a.b.c"};
    for (size_t i = 0; i < sizeof(subjects) / sizeof(subjects[0]); i++) {
        match(subjects[i]);
        assert_int_equal(found(&e), 1);
        assert_int_equal(total(), 1);
    }
    ne_sublist_remove(&sl, &e);
}

static void test_mixed_subscriptions_each_match_once(void **state)
{
    (void)state;
    ne_sub_entry subs[] = {entry("a.b.c", NULL), entry("a.*.c", NULL), entry("a.>", NULL),
                           entry("*.b.>", NULL), entry(">", NULL),     entry("a.b.*", NULL),
                           entry("*.*.*", NULL), entry("a.b", NULL),   entry("a.b.c.d", NULL),
                           entry("*", NULL)};
    const size_t n = sizeof(subs) / sizeof(subs[0]);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(insert(&subs[i]), NE_OK);
    }
    static const char *const subjects[] = {"a.b.c", "a.b",   "a",     "a.x.c",    "a.b.c.d",
                                           "x.b.c", "x.y.z", "b.b.b", "a.b.c.d.e"};
    for (size_t s = 0; s < sizeof(subjects) / sizeof(subjects[0]); s++) {
        match(subjects[s]);
        uint32_t want = 0;
        for (size_t i = 0; i < n; i++) {
            bool m = ne_subject_matches(subs[i].subject, subs[i].subject_len, subjects[s],
                                        strlen(subjects[s]));
            assert_int_equal(found(&subs[i]), m ? 1 : 0);
            want += m;
        }
        assert_int_equal(total(), want);
    }
    match("a.b.c");
    assert_int_equal(total(), 7); /* all but "a.b", "a.b.c.d" and "*" */
    for (size_t i = 0; i < n; i++) {
        ne_sublist_remove(&sl, &subs[i]);
    }
}

static void test_duplicate_subscriptions_on_one_subject_all_match(void **state)
{
    (void)state;
    ne_sub_entry a = entry("foo", NULL), b = entry("foo", NULL), c = entry("foo", NULL);
    assert_int_equal(insert(&a), NE_OK);
    assert_int_equal(insert(&b), NE_OK);
    assert_int_equal(insert(&c), NE_OK);
    assert_int_equal(trie.pool.in_use, 2);
    match("foo");
    assert_int_equal(res.plain_count, 3);
    assert_int_equal(found(&a) + found(&b) + found(&c), 3);
    ne_sublist_remove(&sl, &b);
    match("foo");
    assert_int_equal(res.plain_count, 2);
    assert_int_equal(found(&b), 0);
    ne_sublist_remove(&sl, &a);
    ne_sublist_remove(&sl, &c);
}

static void test_published_wildcard_subject_follows_wildcard_nodes_only(void **state)
{
    (void)state;
    /* nats-server takes a published "foo.*" literally: "foo.*" and "foo.>"
     * subscribers get it, "foo.bar" does not. */
    ne_sub_entry lit = entry("foo.bar", NULL), pwc = entry("foo.*", NULL),
                 fwc = entry("foo.>", NULL), inner = entry("foo*bar", NULL);
    assert_int_equal(insert(&lit), NE_OK);
    assert_int_equal(insert(&pwc), NE_OK);
    assert_int_equal(insert(&fwc), NE_OK);
    assert_int_equal(insert(&inner), NE_OK);
    match("foo.*");
    assert_int_equal(found(&pwc), 1);
    assert_int_equal(found(&fwc), 1);
    assert_int_equal(total(), 2);
    match("foo.>");
    assert_int_equal(found(&pwc), 1);
    assert_int_equal(found(&fwc), 1);
    assert_int_equal(total(), 2);
    match("foo*bar");
    assert_int_equal(found(&inner), 1);
    assert_int_equal(total(), 1);
    match("*");
    assert_int_equal(total(), 0);
    ne_sublist_remove(&sl, &lit);
    ne_sublist_remove(&sl, &pwc);
    ne_sublist_remove(&sl, &fwc);
    ne_sublist_remove(&sl, &inner);
}

static void test_subject_with_an_empty_token_matches_nothing(void **state)
{
    (void)state;
    ne_sub_entry all = entry(">", NULL), star = entry("*", NULL), two = entry("*.*", NULL);
    assert_int_equal(insert(&all), NE_OK);
    assert_int_equal(insert(&star), NE_OK);
    assert_int_equal(insert(&two), NE_OK);
    static const char *const bad[] = {"", ".", "a.", ".a", "a..b", "a.b."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        match(bad[i]);
        assert_int_equal(total(), 0);
    }
    ne_sublist_match(&sl, NULL, 0, &res);
    assert_int_equal(total(), 0);
    ne_sublist_remove(&sl, &all);
    ne_sublist_remove(&sl, &star);
    ne_sublist_remove(&sl, &two);
}

static void test_subject_deeper_than_the_token_limit_matches_full_wildcards(void **state)
{
    (void)state;
    /* Stored subjects are at most NE_MAX_SUBJECT_TOKENS deep; a published
     * one may be deeper (nats-server has no such limit) and only '>' can
     * reach it. */
    char deep[(NE_MAX_SUBJECT_TOKENS + 4) * 2];
    for (size_t i = 0; i < sizeof(deep); i += 2) {
        deep[i] = 'a';
        deep[i + 1] = '.';
    }
    const size_t deep_len = sizeof(deep) - 1; /* NE_MAX_SUBJECT_TOKENS + 4 tokens */
    char filter[NE_MAX_SUBJECT_TOKENS * 2];
    memcpy(filter, deep, sizeof(filter));
    filter[sizeof(filter) - 2] = '>'; /* NE_MAX_SUBJECT_TOKENS tokens, the last '>' */
    ne_sub_entry all = entry(">", NULL), a = entry("a.>", NULL), star = entry("a.*", NULL);
    ne_sub_entry deepest = {.subject = filter, .subject_len = sizeof(filter) - 1};
    assert_int_equal(insert(&all), NE_OK);
    assert_int_equal(insert(&a), NE_OK);
    assert_int_equal(insert(&star), NE_OK);
    assert_int_equal(insert(&deepest), NE_OK);
    ne_sublist_match(&sl, deep, deep_len, &res);
    assert_int_equal(found(&all), 1);
    assert_int_equal(found(&a), 1);
    assert_int_equal(found(&deepest), 1);
    assert_int_equal(total(), 3);
    /* One token short of the deepest filter, then exactly as deep. */
    ne_sublist_match(&sl, deep, NE_MAX_SUBJECT_TOKENS * 2 - 3, &res);
    assert_int_equal(found(&deepest), 0);
    assert_int_equal(total(), 2);
    ne_sublist_match(&sl, deep, NE_MAX_SUBJECT_TOKENS * 2 - 1, &res);
    assert_int_equal(found(&deepest), 1);
    assert_int_equal(total(), 3);
    ne_sublist_remove(&sl, &all);
    ne_sublist_remove(&sl, &a);
    ne_sublist_remove(&sl, &star);
    ne_sublist_remove(&sl, &deepest);
}

static void test_published_token_longer_than_any_node_matches_wildcards_only(void **state)
{
    (void)state;
    char text[NE_TOKEN_BYTES + 8];
    memcpy(text, "a.", 2);
    memset(text + 2, 'x', sizeof(text) - 2);
    ne_sub_entry lit = {.subject = text, .subject_len = NE_TOKEN_BYTES + 2};
    ne_sub_entry star = entry("a.*", NULL);
    assert_int_equal(insert(&lit), NE_OK);
    assert_int_equal(insert(&star), NE_OK);
    ne_sublist_match(&sl, text, sizeof(text), &res);
    assert_int_equal(found(&star), 1);
    assert_int_equal(total(), 1);
    ne_sublist_match(&sl, text, NE_TOKEN_BYTES + 2, &res);
    assert_int_equal(found(&lit), 1);
    assert_int_equal(found(&star), 1);
    ne_sublist_remove(&sl, &lit);
    ne_sublist_remove(&sl, &star);
}

static void test_match_reads_only_the_given_length(void **state)
{
    (void)state;
    ne_sub_entry e = entry("foo.bar", NULL);
    assert_int_equal(insert(&e), NE_OK);
    ne_sublist_match(&sl, "foo.barbaz", 7, &res);
    assert_int_equal(found(&e), 1);
    ne_sublist_match(&sl, "foo.bar", 6, &res);
    assert_int_equal(total(), 0);
    ne_sublist_remove(&sl, &e);
}

/* ---- Queue groups -------------------------------------------------------- */

static void test_queue_members_of_one_name_on_one_subject_form_one_group(void **state)
{
    (void)state;
    ne_sub_entry m[4] = {entry("work", "q"), entry("work", "q"), entry("work", "q"),
                         entry("work", "q")};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(insert(&m[i]), NE_OK);
    }
    match("work");
    assert_int_equal(res.plain_count, 0);
    assert_int_equal(res.queue_count, 4);
    assert_int_equal(res.group_count, 1);
    assert_int_equal(res.groups[0].start, 0);
    assert_int_equal(res.groups[0].count, 4);
    assert_groups_well_formed();
    for (int i = 0; i < 4; i++) {
        ne_sublist_remove(&sl, &m[i]);
    }
}

static void test_queue_members_of_same_name_across_nodes_form_one_group(void **state)
{
    (void)state;
    /* The queue text lives in different buffers: names compare by bytes. */
    char q1[] = "A", q2[] = "A", q3[] = "A";
    ne_sub_entry pwc = entry("foo.*", q1), fwc = entry("foo.>", q2), lit = entry("foo.bar", q3);
    assert_int_equal(insert(&pwc), NE_OK);
    assert_int_equal(insert(&fwc), NE_OK);
    assert_int_equal(insert(&lit), NE_OK);
    match("foo.bar");
    assert_int_equal(res.queue_count, 3);
    assert_int_equal(res.group_count, 1);
    assert_int_equal(res.groups[0].count, 3);
    assert_int_equal(found(&pwc) + found(&fwc) + found(&lit), 3);
    assert_groups_well_formed();
    match("foo.baz");
    assert_int_equal(res.group_count, 1);
    assert_int_equal(res.groups[0].count, 2);
    assert_groups_well_formed();
    ne_sublist_remove(&sl, &pwc);
    ne_sublist_remove(&sl, &fwc);
    ne_sublist_remove(&sl, &lit);
}

static void test_queue_groups_are_separate_by_name_and_plain_subs_apart_CP58(void **state)
{
    (void)state;
    ne_sub_entry a1 = entry("orders.new", "A"), a2 = entry("orders.*", "A"),
                 b1 = entry("orders.new", "B"), plain1 = entry("orders.new", NULL),
                 plain2 = entry("orders.>", NULL);
    ne_sub_entry *all[] = {&a1, &a2, &b1, &plain1, &plain2};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(insert(all[i]), NE_OK);
    }
    match("orders.new");
    assert_int_equal(res.plain_count, 2);
    assert_int_equal(res.queue_count, 3);
    assert_int_equal(res.group_count, 2);
    assert_groups_well_formed();
    int ga = group_named("A"), gb = group_named("B");
    assert_true(ga >= 0 && gb >= 0);
    assert_int_equal(res.groups[ga].count, 2);
    assert_int_equal(res.groups[gb].count, 1);
    assert_int_equal(found(&plain1) + found(&plain2), 2);
    for (size_t i = 0; i < 5; i++) {
        ne_sublist_remove(&sl, all[i]);
    }
}

static void test_queue_names_compare_bytewise_wildcard_characters_included_CP60(void **state)
{
    (void)state;
    ne_sub_entry star = entry("s", "*"), gt = entry("s", ">"), dotted = entry("s", "q.1"),
                 upper = entry("S", "Q"), lower = entry("s", "q"), prefix = entry("s", "q.");
    ne_sub_entry *all[] = {&star, &gt, &dotted, &upper, &lower, &prefix};
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(insert(all[i]), NE_OK);
    }
    match("s");
    assert_int_equal(res.queue_count, 5);
    assert_int_equal(res.group_count, 5);
    assert_groups_well_formed();
    assert_true(group_named("*") >= 0);
    assert_true(group_named(">") >= 0);
    assert_true(group_named("q.1") >= 0);
    assert_true(group_named("q.") >= 0);
    assert_true(group_named("q") >= 0);
    assert_int_equal(group_named("Q"), -1);
    for (size_t i = 0; i < 6; i++) {
        ne_sublist_remove(&sl, all[i]);
    }
}

static void test_queue_groups_interleaved_across_nodes_come_out_contiguous(void **state)
{
    (void)state;
    /* Three nodes each holding members of several names, met in different
     * orders, so the result must be regrouped. */
    static const char *const subjects[] = {"x.y", "x.*", "x.>", "*.y", ">"};
    static const char *const names[] = {"C", "A", "B", "A", "C", "D"};
    ne_sub_entry e[5][6];
    for (int s = 0; s < 5; s++) {
        for (int q = 0; q < 6; q++) {
            e[s][q] = entry(subjects[s], names[(q + s) % 6]);
            assert_int_equal(insert(&e[s][q]), NE_OK);
        }
    }
    match("x.y");
    assert_int_equal(res.queue_count, 30);
    assert_int_equal(res.group_count, 4);
    assert_groups_well_formed();
    assert_int_equal(res.groups[group_named("A")].count, 10);
    assert_int_equal(res.groups[group_named("B")].count, 5);
    assert_int_equal(res.groups[group_named("C")].count, 10);
    assert_int_equal(res.groups[group_named("D")].count, 5);
    for (int s = 0; s < 5; s++) {
        for (int q = 0; q < 6; q++) {
            assert_int_equal(found(&e[s][q]), 1);
        }
    }
    /* Removing members keeps each node's names adjacent. */
    for (int s = 0; s < 5; s++) {
        ne_sublist_remove(&sl, &e[s][1]);
        ne_sublist_remove(&sl, &e[s][4]);
    }
    assert_true(ne_trie_check(&trie));
    match("x.y");
    assert_int_equal(res.queue_count, 20);
    assert_groups_well_formed();
    for (int s = 0; s < 5; s++) {
        for (int q = 0; q < 6; q++) {
            if (q != 1 && q != 4) {
                ne_sublist_remove(&sl, &e[s][q]);
            }
        }
    }
}

static void test_removing_a_queue_member_keeps_the_rest_of_its_group(void **state)
{
    (void)state;
    ne_sub_entry a = entry("job", "w"), b = entry("job", "w"), c = entry("job", "v");
    assert_int_equal(insert(&a), NE_OK);
    assert_int_equal(insert(&b), NE_OK);
    assert_int_equal(insert(&c), NE_OK);
    ne_sublist_remove(&sl, &a);
    match("job");
    assert_int_equal(res.queue_count, 2);
    assert_int_equal(res.group_count, 2);
    assert_int_equal(found(&b), 1);
    assert_int_equal(found(&c), 1);
    ne_sublist_remove(&sl, &b);
    ne_sublist_remove(&sl, &c);
}

/* ---- Removal and pruning ------------------------------------------------- */

static void test_remove_prunes_only_nodes_left_empty(void **state)
{
    (void)state;
    ne_sub_entry abc = entry("a.b.c", NULL), abd = entry("a.b.d", NULL), ab = entry("a.b", "q"),
                 star = entry("a.*.>", NULL);
    assert_int_equal(insert(&abc), NE_OK);
    assert_int_equal(trie.pool.in_use, 1 + 3);
    assert_int_equal(insert(&abd), NE_OK);
    assert_int_equal(trie.pool.in_use, 1 + 4);
    assert_int_equal(insert(&ab), NE_OK);
    assert_int_equal(trie.pool.in_use, 1 + 4); /* "a.b" exists already */
    assert_int_equal(insert(&star), NE_OK);
    assert_int_equal(trie.pool.in_use, 1 + 6);
    ne_sublist_remove(&sl, &abc);
    assert_int_equal(trie.pool.in_use, 1 + 5); /* only "c" went */
    ne_sublist_remove(&sl, &ab);
    assert_int_equal(trie.pool.in_use, 1 + 5); /* "b" still leads to "d" */
    ne_sublist_remove(&sl, &abd);
    assert_int_equal(trie.pool.in_use, 1 + 3); /* "b" and "d" went, "a" holds "*" */
    assert_true(ne_trie_check(&trie));
    match("a.x.y");
    assert_int_equal(found(&star), 1);
    ne_sublist_remove(&sl, &star);
    assert_int_equal(trie.pool.in_use, 1);
}

static void test_remove_then_reinsert_matches_again(void **state)
{
    (void)state;
    ne_sub_entry e = entry("re.use", NULL);
    for (int round = 0; round < 3; round++) {
        assert_int_equal(insert(&e), NE_OK);
        match("re.use");
        assert_int_equal(found(&e), 1);
        ne_sublist_remove(&sl, &e);
        match("re.use");
        assert_int_equal(total(), 0);
    }
}

static void test_generation_changes_on_every_insert_and_remove_only(void **state)
{
    (void)state;
    ne_sub_entry e = entry("g.h", NULL), bad = entry("g..h", NULL);
    uint64_t g0 = sl.generation;
    assert_int_equal(insert(&e), NE_OK);
    assert_true(sl.generation == g0 + 1);
    assert_int_equal(insert(&bad), NE_ERR_INVALID);
    match("g.h");
    assert_true(sl.generation == g0 + 1);
    ne_sublist_remove(&sl, &e);
    assert_true(sl.generation == g0 + 2);
}

static void test_counters_count_inserts_removes_and_matches(void **state)
{
    (void)state;
    ne_sub_entry a = entry("c.a", NULL), b = entry("c.b", "q");
    assert_int_equal(insert(&a), NE_OK);
    assert_int_equal(insert(&b), NE_OK);
    assert_int_equal(sl.count, 2);
    match("c.a");
    match("nothing");
    ne_sublist_remove(&sl, &a);
    assert_int_equal(sl.count, 1);
    assert_int_equal(sl.inserts, 2);
    assert_int_equal(sl.removes, 1);
    assert_int_equal(sl.matches, 2);
    assert_int_equal(sl.overflows, 0);
    ne_sublist_remove(&sl, &b);
}

/* ---- Exhaustion and overflow -------------------------------------------- */

static ne_sub_entry *many_entry(uint32_t i, const char *fmt, const char *queue)
{
    snprintf(many_text[i], TEXT_BYTES, fmt, (unsigned)i);
    many[i] = entry(many_text[i], queue);
    return &many[i];
}

static void test_node_exhaustion_refuses_insert_and_leaves_the_trie_unchanged(void **state)
{
    (void)state;
    /* One new node per insert until three are left. */
    uint32_t n = 0;
    while (ne_pool_available(&trie.pool) > 3) {
        assert_int_equal(insert(many_entry(n, "n%u", NULL)), NE_OK);
        n++;
    }
    assert_int_equal(n, NE_MAX_TRIE_NODES - 4);
    const uint32_t in_use = trie.pool.in_use, slots = trie.slots_used;
    const uint64_t generation = sl.generation;

    /* Four new nodes needed, three there: refused, the three taken are back. */
    ne_sub_entry deep = entry("x.y.z.w", NULL);
    assert_int_equal(insert(&deep), NE_ERR_NOMEM);
    assert_int_equal(trie.pool.exhausted, 1);
    assert_int_equal(trie.pool.in_use, in_use);
    assert_int_equal(trie.slots_used, slots);
    assert_true(sl.generation == generation);
    assert_int_equal(sl.count, n);
    /* Below an existing node: the rollback stops at it and keeps it. */
    ne_sub_entry below = entry("n5.a.b.c.d", "q");
    assert_int_equal(insert(&below), NE_ERR_NOMEM);
    assert_int_equal(trie.pool.in_use, in_use);
    assert_true(ne_trie_check(&trie));
    match("n5");
    assert_int_equal(found(&many[5]), 1);
    assert_int_equal(total(), 1);
    match("x.y.z.w");
    assert_int_equal(total(), 0);

    /* The last nodes go one by one, then nothing new fits... */
    while (insert(many_entry(n, "m%u", NULL)) == NE_OK) {
        n++;
    }
    assert_int_equal(trie.pool.in_use, NE_MAX_TRIE_NODES);
    assert_int_equal(trie.pool.exhausted, 3);
    /* ...but a subject whose nodes exist still does, and so do wildcards
     * under an existing node only when that node is there. */
    ne_sub_entry again = entry("n7", "q");
    assert_int_equal(insert(&again), NE_OK);
    ne_sub_entry star = entry("*", NULL);
    assert_int_equal(insert(&star), NE_ERR_NOMEM);
    /* No root for another sublist either; its deinit is then a no-op. */
    ne_sublist other;
    assert_int_equal(ne_sublist_init(&other, &trie), NE_ERR_NOMEM);
    ne_sublist_deinit(&other);
    assert_true(ne_trie_check(&trie));
    match("n7");
    assert_int_equal(found(&many[7]), 1);
    assert_int_equal(found(&again), 1);
    assert_int_equal(res.group_count, 1);
    match("m9000");
    assert_int_equal(total(), 0);
    match(many_text[n / 2]);
    assert_int_equal(found(&many[n / 2]), 1);

    ne_sublist_remove(&sl, &again);
    for (uint32_t i = 0; i < n; i++) {
        ne_sublist_remove(&sl, &many[i]);
    }
    assert_int_equal(trie.pool.in_use, 1);
    assert_int_equal(trie.pool.peak, NE_MAX_TRIE_NODES);
    /* Freed nodes are usable again. */
    assert_int_equal(insert(&deep), NE_OK);
    ne_sublist_remove(&sl, &deep);
}

static void test_plain_fanout_overflow_is_flagged_and_counted(void **state)
{
    (void)state;
    const uint32_t n = NE_MAX_FANOUT + 5;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(insert(many_entry(i, i % 2 ? "fan.out" : "fan.*", NULL)), NE_OK);
    }
    match("fan.out");
    assert_true(res.overflow);
    assert_int_equal(res.plain_count, NE_MAX_FANOUT);
    assert_int_equal(sl.overflows, 1);
    /* Every entry returned is distinct. */
    for (uint32_t i = 0; i < res.plain_count; i++) {
        assert_int_equal(found(res.plain[i]), 1);
    }
    ne_sublist_remove(&sl, &many[0]);
    ne_sublist_remove(&sl, &many[1]);
    ne_sublist_remove(&sl, &many[2]);
    ne_sublist_remove(&sl, &many[3]);
    ne_sublist_remove(&sl, &many[4]);
    match("fan.out");
    assert_false(res.overflow);
    assert_int_equal(res.plain_count, NE_MAX_FANOUT);
    for (uint32_t i = 5; i < n; i++) {
        ne_sublist_remove(&sl, &many[i]);
    }
}

static void test_queue_fanout_overflow_is_flagged(void **state)
{
    (void)state;
    const uint32_t n = NE_MAX_FANOUT + 3;
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(insert(many_entry(i, "qfan", i % 3 ? "a" : "b")), NE_OK);
    }
    ne_sub_entry plain = entry("qfan", NULL);
    assert_int_equal(insert(&plain), NE_OK);
    match("qfan");
    assert_true(res.overflow);
    assert_int_equal(res.queue_count, NE_MAX_FANOUT);
    assert_int_equal(res.plain_count, 1); /* plain ones have their own room */
    assert_groups_well_formed();
    ne_sublist_remove(&sl, &plain);
    for (uint32_t i = 0; i < n; i++) {
        ne_sublist_remove(&sl, &many[i]);
    }
}

static void test_queue_group_limit_drops_extra_groups_and_flags_overflow(void **state)
{
    (void)state;
    static char names[NE_MAX_MATCH_QUEUE_GROUPS + 4][8];
    const uint32_t groups = NE_MAX_MATCH_QUEUE_GROUPS + 4;
    uint32_t n = 0;
    for (uint32_t g = 0; g < groups; g++) {
        snprintf(names[g], sizeof(names[g]), "g%u", (unsigned)g);
        /* Two members each, on two subjects, so a dropped name meets the
         * limit more than once. */
        assert_int_equal(insert(many_entry(n++, "lim.x", names[g])), NE_OK);
        assert_int_equal(insert(many_entry(n++, "lim.*", names[g])), NE_OK);
    }
    match("lim.x");
    assert_true(res.overflow);
    assert_int_equal(res.group_count, NE_MAX_MATCH_QUEUE_GROUPS);
    assert_int_equal(res.queue_count, 2u * NE_MAX_MATCH_QUEUE_GROUPS);
    assert_groups_well_formed();
    for (uint32_t g = 0; g < res.group_count; g++) {
        assert_int_equal(res.groups[g].count, 2);
    }
    for (uint32_t i = 0; i < n; i++) {
        ne_sublist_remove(&sl, &many[i]);
    }
}

/* ---- Several sublists on one trie --------------------------------------- */

static void test_sublists_sharing_a_trie_are_isolated(void **state)
{
    (void)state;
    ne_sublist other;
    assert_int_equal(ne_sublist_init(&other, &trie), NE_OK);
    ne_sub_entry mine = entry("acct.x", NULL), theirs = entry("acct.x", NULL),
                 their_all = entry(">", NULL), mine_q = entry("acct.*", "q"),
                 theirs_q = entry("acct.*", "q");
    assert_int_equal(insert(&mine), NE_OK);
    assert_int_equal(insert(&mine_q), NE_OK);
    assert_int_equal(ne_sublist_insert(&other, &theirs), NE_OK);
    assert_int_equal(ne_sublist_insert(&other, &their_all), NE_OK);
    assert_int_equal(ne_sublist_insert(&other, &theirs_q), NE_OK);
    assert_int_equal(trie.pool.in_use, 2 + 3 + 4); /* two roots, own nodes each */
    match("acct.x");
    assert_int_equal(total(), 2);
    assert_int_equal(found(&mine), 1);
    assert_int_equal(found(&mine_q), 1);
    assert_int_equal(res.group_count, 1);
    ne_sublist_match(&other, "acct.x", 6, &res);
    assert_int_equal(total(), 3);
    assert_int_equal(found(&theirs), 1);
    assert_int_equal(found(&their_all), 1);
    assert_int_equal(found(&theirs_q), 1);
    assert_int_equal(res.group_count, 1);
    assert_int_equal(sl.count, 2);
    assert_int_equal(other.count, 3);
    /* Removing from one leaves the other's identical subjects in place. */
    ne_sublist_remove(&sl, &mine);
    ne_sublist_remove(&sl, &mine_q);
    ne_sublist_match(&other, "acct.x", 6, &res);
    assert_int_equal(total(), 3);
    ne_sublist_remove(&other, &theirs);
    ne_sublist_remove(&other, &their_all);
    ne_sublist_remove(&other, &theirs_q);
    assert_true(ne_trie_check(&trie));
    ne_sublist_deinit(&other);
    assert_int_equal(trie.pool.in_use, 1);
}

/* ---- Randomized comparison with ne_subject_matches ---------------------- */

static uint32_t rng_state;

static uint32_t rng(void)
{
    /* xorshift32: a fixed seed gives the same run everywhere. */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return rng_state;
}

/* A subject of 1..5 tokens from a small alphabet so that subjects collide;
 * wildcards when asked (a '>' only last, unless `broken`). */
static size_t random_subject(char *out, bool wild, bool broken)
{
    static const char *const literal[] = {"a", "b", "c", "dd", "a*", ">b"};
    size_t tokens = 1 + rng() % 5, len = 0;
    for (size_t t = 0; t < tokens; t++) {
        if (t > 0) {
            out[len++] = '.';
        }
        uint32_t r = rng() % 10;
        const char *tok = literal[rng() % 6];
        if (r == 0 && (wild || broken)) {
            tok = "*";
        } else if (r == 1 && (wild || broken) && (t == tokens - 1 || broken)) {
            tok = ">";
        } else if (r == 2 && broken) {
            tok = "";
        }
        size_t n = strlen(tok);
        memcpy(out + len, tok, n);
        len += n;
    }
    return len;
}

#define RANDOM_ENTRIES 256

static void test_random_workload_matches_brute_force(void **state)
{
    (void)state;
    static const char *const queues[] = {NULL, NULL, "q1", "q2", "q3"};
    static ne_sub_entry subs[RANDOM_ENTRIES];
    static char text[RANDOM_ENTRIES][32];
    static bool inserted[RANDOM_ENTRIES];
    memset(inserted, 0, sizeof(inserted));
    rng_state = 0x5eed1234u;
    uint32_t live = 0, matched_any = 0, nomem = 0, overflows = 0;
    for (uint32_t op = 0; op < 6000; op++) {
        uint32_t r = rng() % 100;
        uint32_t k = rng() % RANDOM_ENTRIES;
        uint64_t generation = sl.generation;
        if (r < 45 && !inserted[k]) {
            size_t len = random_subject(text[k], true, rng() % 16 == 0);
            const char *q = queues[rng() % 5];
            subs[k] = (ne_sub_entry){.subject = text[k],
                                     .subject_len = (uint16_t)len,
                                     .queue = q,
                                     .queue_len = q != NULL ? (uint16_t)strlen(q) : 0};
            uint32_t in_use = trie.pool.in_use;
            int rc = insert(&subs[k]);
            if (rc == NE_ERR_NOMEM) {
                /* Only in small profiles: refused whole. */
                assert_int_equal(trie.pool.in_use, in_use);
                assert_true(sl.generation == generation);
                nomem++;
            } else {
                assert_int_equal(rc, ne_subject_valid(text[k], len) ? NE_OK : NE_ERR_INVALID);
            }
            if (rc == NE_OK) {
                inserted[k] = true;
                live++;
                assert_true(sl.generation == generation + 1);
            }
        } else if (r < 80 && inserted[k]) {
            ne_sublist_remove(&sl, &subs[k]);
            inserted[k] = false;
            live--;
            assert_true(sl.generation == generation + 1);
        } else {
            char subject[40];
            size_t len = random_subject(subject, rng() % 8 == 0, rng() % 16 == 0);
            ne_sublist_match(&sl, subject, len, &res);
            assert_groups_well_formed();
            uint32_t want = 0;
            for (uint32_t i = 0; i < RANDOM_ENTRIES; i++) {
                bool m = inserted[i] &&
                         ne_subject_matches(subs[i].subject, subs[i].subject_len, subject, len);
                /* After an overflow (small profiles) some matches are
                 * missing, never a wrong or repeated one. */
                uint32_t got = found(&subs[i]);
                if (res.overflow ? got > (m ? 1u : 0u) : got != (m ? 1u : 0u)) {
                    fail_msg("op %u: '%.*s' vs '%.*s': trie %u, brute force %d", (unsigned)op,
                             (int)subs[i].subject_len, subs[i].subject, (int)len, subject,
                             (unsigned)found(&subs[i]), (int)m);
                }
                want += m;
            }
            if (res.overflow) {
                assert_true(total() < want);
                overflows++;
            } else {
                assert_int_equal(total(), want);
            }
            matched_any += want > 0;
        }
        assert_int_equal(sl.count, live);
        if (op % 500 == 0) {
            assert_true(ne_trie_check(&trie));
        }
    }
    assert_true(matched_any > 100); /* the workload did exercise matches */
    if (NE_MAX_TRIE_NODES >= 1024 && NE_MAX_FANOUT >= RANDOM_ENTRIES) {
        assert_int_equal(nomem, 0); /* the default profile has room for it all */
        assert_int_equal(overflows, 0);
    }
    for (uint32_t i = 0; i < RANDOM_ENTRIES; i++) {
        if (inserted[i]) {
            ne_sublist_remove(&sl, &subs[i]);
        }
    }
}

static bool count_visit(void *ctx, const ne_sub_entry *other)
{
    (void)other;
    (*(int *)ctx)++;
    return true;
}

static bool stop_at_first(void *ctx, const ne_sub_entry *other)
{
    (void)other;
    (*(int *)ctx)++;
    return false;
}

/* The entries on exactly one subject: the plain ones of a plain entry, the
 * members of one queue group of a queue entry (a route counts the
 * subscriptions behind one RS+ and its weight this way). */
static void test_each_same_visits_one_subject_and_one_group(void **state)
{
    (void)state;
    ne_sub_entry a1 = entry("a.b", NULL), a2 = entry("a.b", NULL);
    ne_sub_entry other = entry("a.*", NULL);
    ne_sub_entry q1 = entry("a.b", "q"), q2 = entry("a.b", "q"), r1 = entry("a.b", "r");
    ne_sub_entry *all[] = {&a1, &a2, &other, &q1, &r1, &q2};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        assert_int_equal(ne_sublist_insert(&sl, all[i]), NE_OK);
    }
    int n = 0;
    ne_sublist_each_same(&sl, &a1, count_visit, &n);
    assert_int_equal(n, 2);
    n = 0;
    ne_sublist_each_same(&sl, &other, count_visit, &n);
    assert_int_equal(n, 1);
    n = 0;
    ne_sublist_each_same(&sl, &q2, count_visit, &n);
    assert_int_equal(n, 2);
    n = 0;
    ne_sublist_each_same(&sl, &r1, count_visit, &n);
    assert_int_equal(n, 1);
    n = 0;
    ne_sublist_each_same(&sl, &q1, stop_at_first, &n);
    assert_int_equal(n, 1);
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        ne_sublist_remove(&sl, all[i]);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

/* mprotect over the whole pages inside [p, p + n). */
static void protect_inside(void *p, size_t n, int prot)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(page - 1);
    assert_true(end > start);
    assert_int_equal(mprotect((void *)start, end - start, prot), 0);
}

/* ne_trie_init reads no node and no slot: the pages of a trie whose
 * subscriptions never reach them stay out of the resident set (on a host
 * without a shared zero page a read makes a page resident too). */
static void test_trie_init_reads_no_node_and_no_slot(void **state)
{
    (void)state;
    static ne_trie fresh;
    static ne_sublist list;
    protect_inside(fresh.nodes, sizeof(fresh.nodes), PROT_NONE);
    protect_inside(fresh.slots, sizeof(fresh.slots), PROT_NONE);
    ne_trie_init(&fresh);
    protect_inside(fresh.nodes, sizeof(fresh.nodes), PROT_READ | PROT_WRITE);
    protect_inside(fresh.slots, sizeof(fresh.slots), PROT_READ | PROT_WRITE);
    /* A table of zero bytes is an empty one. */
    assert_true(ne_trie_check(&fresh));
    assert_int_equal(ne_sublist_init(&list, &fresh), NE_OK);
    ne_sub_entry e = entry("a.b.c", NULL);
    assert_int_equal(ne_sublist_insert(&list, &e), NE_OK);
    static ne_match_result r;
    ne_sublist_match(&list, "a.b.c", 5, &r);
    assert_int_equal(r.plain_count, 1);
    assert_true(ne_trie_check(&fresh));
    ne_sublist_remove(&list, &e);
    assert_int_equal(fresh.slots_used, 0);
    ne_sublist_deinit(&list);
    assert_int_equal(fresh.pool.in_use, 0);
    assert_true(ne_trie_check(&fresh));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trie_init_reads_no_node_and_no_slot),
        T(test_insert_refuses_invalid_subjects_and_takes_no_node_CP53_CP54),
        T(test_insert_refuses_long_tokens_and_deep_subjects_with_too_big),
        T(test_match_cache_answers_repeats_and_forgets_on_change),
        T(test_literal_subscription_matches_only_its_subject),
        T(test_star_subscription_matches_exactly_one_token_CP54),
        T(test_full_wildcard_subscription_matches_one_or_more_tokens_CP55),
        T(test_lone_full_wildcard_matches_every_subject_including_dollar_CP55),
        T(test_mixed_subscriptions_each_match_once),
        T(test_duplicate_subscriptions_on_one_subject_all_match),
        T(test_published_wildcard_subject_follows_wildcard_nodes_only),
        T(test_subject_with_an_empty_token_matches_nothing),
        T(test_subject_deeper_than_the_token_limit_matches_full_wildcards),
        T(test_published_token_longer_than_any_node_matches_wildcards_only),
        T(test_match_reads_only_the_given_length),
        T(test_queue_members_of_one_name_on_one_subject_form_one_group),
        T(test_queue_members_of_same_name_across_nodes_form_one_group),
        T(test_queue_groups_are_separate_by_name_and_plain_subs_apart_CP58),
        T(test_queue_names_compare_bytewise_wildcard_characters_included_CP60),
        T(test_queue_groups_interleaved_across_nodes_come_out_contiguous),
        T(test_removing_a_queue_member_keeps_the_rest_of_its_group),
        T(test_remove_prunes_only_nodes_left_empty),
        T(test_remove_then_reinsert_matches_again),
        T(test_generation_changes_on_every_insert_and_remove_only),
        T(test_counters_count_inserts_removes_and_matches),
        T(test_node_exhaustion_refuses_insert_and_leaves_the_trie_unchanged),
        T(test_plain_fanout_overflow_is_flagged_and_counted),
        T(test_queue_fanout_overflow_is_flagged),
        T(test_queue_group_limit_drops_extra_groups_and_flags_overflow),
        T(test_sublists_sharing_a_trie_are_isolated),
        T(test_random_workload_matches_brute_force),
        T(test_each_same_visits_one_subject_and_one_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
