/* Unit tests of subject rules and the subject trie (src/sublist). After each
 * test the trie's node pool is back to its idle level (the roots). IDs refer
 * to shared/reference/nats-inventory.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "sublist/ne_subject.h"
#include "sublist/ne_sublist.h"

static ne_trie trie;
static ne_sublist sl;
static ne_match_result res;

static int setup(void **state)
{
    (void)state;
    ne_trie_init(&trie);
    assert_int_equal(ne_sublist_init(&sl, &trie), NE_OK);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    assert_int_equal(sl.count, 0);
    assert_int_equal(trie.pool.in_use, 1); /* only the root */
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

static void match(const char *subject)
{
    ne_sublist_match(&sl, subject, strlen(subject), &res);
}

#define V(s) ne_subject_valid(s, strlen(s))
#define L(s) ne_subject_valid_literal(s, strlen(s))
#define M(f, s) ne_subject_matches(f, strlen(f), s, strlen(s))
#define SUBSET(a, b) ne_subject_is_subset(a, strlen(a), b, strlen(b))

static void test_subject_validity_CP53_CP54(void **state)
{
    (void)state;
    assert_true(V("foo"));
    assert_true(V("foo.bar"));
    assert_true(V("foo.*"));
    assert_true(V("foo.>"));
    assert_true(V(">"));
    assert_true(V("*.*"));
    assert_true(V("foo*bar.a>")); /* wildcard characters inside a token are literal */
    assert_true(V("$SYS.x"));
    assert_true(V("\xc3\xa9t\xc3\xa9")); /* UTF-8 (CP-56) */
    assert_false(V(""));
    assert_false(V("."));
    assert_false(V("foo..bar"));
    assert_false(V(".foo"));
    assert_false(V("foo."));
    assert_false(V("foo.>.bar"));
    assert_false(V("foo bar"));
    assert_false(V("foo\tbar"));
    assert_false(V("foo\r"));
    assert_false(V("foo\n.bar"));
    assert_false(V("a\fb"));
    assert_true(L("foo.bar"));
    assert_true(L("foo*bar"));
    assert_false(L("foo.*"));
    assert_false(L("foo.>"));
    assert_false(L("a.."));
}

static void test_subject_matching_CP55(void **state)
{
    (void)state;
    assert_true(M("foo.*", "foo.bar"));
    assert_false(M("foo.*", "foo"));
    assert_false(M("foo.*", "foo.bar.baz"));
    assert_true(M("foo.>", "foo.bar.baz"));
    assert_false(M("foo.>", "foo"));
    assert_true(M(">", "$SYS.anything"));
    assert_true(M("*.b.>", "a.b.c"));
    assert_false(M("a.b", "a.bc"));
    assert_true(M("foo.*", "foo.*")); /* a published wildcard matches literally */
    assert_true(SUBSET("foo.bar", "foo.*"));
    assert_true(SUBSET("foo.*", "foo.>"));
    assert_true(SUBSET("foo.>", ">"));
    assert_false(SUBSET("foo.>", "foo.*"));
    assert_false(SUBSET("foo.*", "foo.bar"));
    assert_false(SUBSET("foo", "foo.>"));
    assert_int_equal(ne_subject_token_count("a.b.c", 5), 3);
}

static void test_literal_wildcard_and_full_wildcard_matches(void **state)
{
    (void)state;
    ne_sub_entry a = entry("foo.bar", NULL), b = entry("foo.*", NULL), c = entry("foo.>", NULL),
                 d = entry(">", NULL), e = entry("foo", NULL);
    ne_sub_entry *all[] = {&a, &b, &c, &d, &e};
    for (int i = 0; i < 5; i++) {
        assert_int_equal(ne_sublist_insert(&sl, all[i]), NE_OK);
    }
    match("foo.bar");
    assert_int_equal(res.plain_count, 4);
    match("foo");
    assert_int_equal(res.plain_count, 2); /* foo and > ; foo.> does not match foo */
    match("foo.bar.baz");
    assert_int_equal(res.plain_count, 2); /* foo.> and > */
    match("other");
    assert_int_equal(res.plain_count, 1);
    for (int i = 0; i < 5; i++) {
        ne_sublist_remove(&sl, all[i]);
    }
    match("foo.bar");
    assert_int_equal(res.plain_count, 0);
}

static void test_queue_members_of_same_name_across_nodes_form_one_group_CP58(void **state)
{
    (void)state;
    ne_sub_entry q1 = entry("work.*", "A"), q2 = entry("work.>", "A"), q3 = entry("work.x", "B"),
                 p = entry("work.x", NULL);
    assert_int_equal(ne_sublist_insert(&sl, &q1), NE_OK);
    assert_int_equal(ne_sublist_insert(&sl, &q2), NE_OK);
    assert_int_equal(ne_sublist_insert(&sl, &q3), NE_OK);
    assert_int_equal(ne_sublist_insert(&sl, &p), NE_OK);
    match("work.x");
    assert_int_equal(res.plain_count, 1);
    assert_int_equal(res.queue_count, 3);
    assert_int_equal(res.group_count, 2);
    for (uint32_t g = 0; g < res.group_count; g++) {
        const ne_sub_entry *first = res.queue[res.groups[g].start];
        for (uint32_t k = 0; k < res.groups[g].count; k++) {
            const ne_sub_entry *m = res.queue[res.groups[g].start + k];
            assert_int_equal(m->queue_len, first->queue_len);
            assert_memory_equal(m->queue, first->queue, m->queue_len);
        }
    }
    ne_sublist_remove(&sl, &q1);
    ne_sublist_remove(&sl, &q2);
    ne_sublist_remove(&sl, &q3);
    ne_sublist_remove(&sl, &p);
}

static void test_limits_refuse_long_tokens_and_deep_subjects(void **state)
{
    (void)state;
    char token[NE_TOKEN_BYTES + 2];
    memset(token, 'x', sizeof(token) - 1);
    token[sizeof(token) - 1] = '\0';
    ne_sub_entry e = entry(token, NULL);
    assert_int_equal(ne_sublist_insert(&sl, &e), NE_ERR_TOO_BIG);
    char deep[NE_MAX_SUBJECT_TOKENS * 2 + 4];
    size_t n = 0;
    for (int i = 0; i <= NE_MAX_SUBJECT_TOKENS; i++) {
        deep[n++] = 'a';
        deep[n++] = '.';
    }
    deep[n - 1] = '\0';
    ne_sub_entry d = entry(deep, NULL);
    assert_int_equal(ne_sublist_insert(&sl, &d), NE_ERR_TOO_BIG);
    ne_sub_entry bad = entry("a..b", NULL);
    assert_int_equal(ne_sublist_insert(&sl, &bad), NE_ERR_INVALID);
    assert_int_equal(trie.pool.in_use, 1);
}

static void test_node_exhaustion_leaves_trie_unchanged_and_working(void **state)
{
    (void)state;
    static ne_sub_entry subs[NE_MAX_TRIE_NODES];
    static char text[NE_MAX_TRIE_NODES][24];
    int inserted = 0;
    int rc = NE_OK;
    for (int i = 0; i < NE_MAX_TRIE_NODES && rc == NE_OK; i++) {
        snprintf(text[i], sizeof(text[i]), "n.%d", i);
        subs[i] = entry(text[i], NULL);
        rc = ne_sublist_insert(&sl, &subs[i]);
        if (rc == NE_OK) {
            inserted++;
        }
    }
    assert_int_equal(rc, NE_ERR_NOMEM);
    assert_true(trie.pool.exhausted >= 1);
    uint32_t used = trie.pool.in_use;
    /* A deeper insert that needs several new nodes fails without leaking. */
    ne_sub_entry deep = entry("x.y.z.w", NULL);
    assert_int_equal(ne_sublist_insert(&sl, &deep), NE_ERR_NOMEM);
    assert_int_equal(trie.pool.in_use, used);
    match("n.7");
    assert_int_equal(res.plain_count, 1);
    for (int i = 0; i < inserted; i++) {
        ne_sublist_remove(&sl, &subs[i]);
    }
}

static void test_fanout_overflow_is_flagged(void **state)
{
    (void)state;
    static ne_sub_entry subs[NE_MAX_FANOUT + 5];
    for (int i = 0; i < NE_MAX_FANOUT + 5; i++) {
        subs[i] = entry("many", NULL);
        assert_int_equal(ne_sublist_insert(&sl, &subs[i]), NE_OK);
    }
    match("many");
    assert_true(res.overflow);
    assert_int_equal(res.plain_count, NE_MAX_FANOUT);
    for (int i = 0; i < NE_MAX_FANOUT + 5; i++) {
        ne_sublist_remove(&sl, &subs[i]);
    }
}

static void test_two_sublists_on_one_trie_are_isolated(void **state)
{
    (void)state;
    ne_sublist other;
    assert_int_equal(ne_sublist_init(&other, &trie), NE_OK);
    ne_sub_entry a = entry("foo", NULL);
    assert_int_equal(ne_sublist_insert(&other, &a), NE_OK);
    match("foo");
    assert_int_equal(res.plain_count, 0);
    ne_sublist_match(&other, "foo", 3, &res);
    assert_int_equal(res.plain_count, 1);
    ne_sublist_remove(&other, &a);
    ne_sublist_deinit(&other);
}

/* A pseudo-random workload checked against brute force over every entry. */
static void test_random_workload_matches_brute_force(void **state)
{
    (void)state;
    static const char *const tokens[] = {"a", "b", "c", "*", ">"};
    enum { N = 300 };
    static ne_sub_entry subs[N];
    static char text[N][32];
    static bool live[N];
    memset(live, 0, sizeof(live));
    uint64_t x = 88172645463325252ull;
    for (int op = 0; op < 4000; op++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int i = (int)(x % N);
        if (live[i]) {
            ne_sublist_remove(&sl, &subs[i]);
            live[i] = false;
        } else {
            int depth = 1 + (int)((x >> 8) % 4);
            size_t n = 0;
            for (int d = 0; d < depth; d++) {
                const char *t = tokens[(x >> (16 + 3 * d)) % (d == depth - 1 ? 5 : 4)];
                n += (size_t)snprintf(text[i] + n, sizeof(text[i]) - n, "%s%s", d ? "." : "", t);
            }
            subs[i] = entry(text[i], ((x >> 40) & 3) == 0 ? "q" : NULL);
            assert_int_equal(ne_sublist_insert(&sl, &subs[i]), NE_OK);
            live[i] = true;
        }
        static const char *const probes[] = {"a", "a.b", "a.b.c", "c.c.c.c", "b.a", "a.a.a.a.a"};
        const char *p = probes[op % 6];
        match(p);
        uint32_t want = 0;
        for (int k = 0; k < N; k++) {
            if (live[k] && ne_subject_matches(subs[k].subject, subs[k].subject_len, p, strlen(p))) {
                want++;
            }
        }
        assert_int_equal(res.plain_count + res.queue_count, want);
    }
    for (int i = 0; i < N; i++) {
        if (live[i]) {
            ne_sublist_remove(&sl, &subs[i]);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_subject_validity_CP53_CP54, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subject_matching_CP55, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literal_wildcard_and_full_wildcard_matches, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_queue_members_of_same_name_across_nodes_form_one_group_CP58, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_refuse_long_tokens_and_deep_subjects, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_node_exhaustion_leaves_trie_unchanged_and_working,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fanout_overflow_is_flagged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_sublists_on_one_trie_are_isolated, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_random_workload_matches_brute_force, setup, teardown),
    };
    return cmocka_run_group_tests_name("sublist", tests, NULL, NULL);
}
