/* Unit tests of the subject rules (src/core/ne_subject.c): validity,
 * matching a published subject against a filter, filter subsets and token
 * counts, as nats-server has them. IDs refer to
 * shared/reference/nats-inventory.md (1.9). The module uses no pool, so
 * there is nothing to check back to idle after a test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_subject.h"

#define V(s) ne_subject_valid(s, strlen(s))
#define L(s) ne_subject_valid_literal(s, strlen(s))
#define M(f, s) ne_subject_matches(f, strlen(f), s, strlen(s))
#define SUBSET(a, b) ne_subject_is_subset(a, strlen(a), b, strlen(b))
#define COUNT(s) ne_subject_token_count(s, strlen(s))

static void test_valid_accepts_literal_and_wildcard_subjects(void **state)
{
    (void)state;
    assert_true(V("foo"));
    assert_true(V("foo.bar"));
    assert_true(V("foo.bar.baz"));
    assert_true(V("*"));
    assert_true(V(">"));
    assert_true(V("foo.*"));
    assert_true(V("foo.>"));
    assert_true(V("*.*.>"));
    assert_true(V("foo.*.bar"));
    assert_true(V("_INBOX.abc123"));
    assert_true(V("$SYS.REQ.SERVER.PING"));
}

static void test_valid_rejects_empty_tokens_CP53(void **state)
{
    (void)state;
    assert_false(ne_subject_valid("", 0));
    assert_false(ne_subject_valid(NULL, 0));
    assert_false(V("."));
    assert_false(V(".."));
    assert_false(V(".foo"));
    assert_false(V("foo."));
    assert_false(V("foo..bar"));
    assert_false(V("foo.bar."));
    assert_false(V("*."));
    assert_false(V(".>"));
}

static void test_valid_rejects_white_space_anywhere_CP53(void **state)
{
    (void)state;
    static const char *const bad[] = {
        " ",        "\t",     "\r",    "\n",      "\f",       "foo bar",   "foo\tbar",
        "foo\rbar", "foo\n",  "\ffoo", "foo. ",   "foo.\t.>", " .foo",     "a. .b",
        "a.b c.d",  "foo.* ", "> ",    "foo.\f>", "foo.>\n",  "\x20.\x20", "a.\fb.c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(V(bad[i]));
        assert_false(L(bad[i]));
    }
    /* Other control bytes are ordinary bytes, as in nats-server. */
    assert_true(V("foo\vbar"));
    assert_true(V("foo\x01"));
}

static void test_wildcard_characters_inside_a_token_are_literal_CP54(void **state)
{
    (void)state;
    assert_true(V("foo*bar"));
    assert_true(V("a>"));
    assert_true(V(">a"));
    assert_true(V("*a.b"));
    assert_true(V("**"));
    assert_true(V(">>"));
    assert_true(V("a>.b")); /* not a '>' token: something may follow it */
    assert_true(L("foo*bar"));
    assert_true(L("a>.>b.**"));
}

static void test_full_wildcard_must_be_the_last_token_CP54(void **state)
{
    (void)state;
    assert_false(V(">.foo"));
    assert_false(V("foo.>.bar"));
    assert_false(V(">.>"));
    assert_false(V("foo.>.*"));
    assert_true(V("foo.*.*.>"));
    assert_true(V("*.>"));
}

static void test_valid_accepts_utf8_and_any_other_byte_CP56(void **state)
{
    (void)state;
    assert_true(V("\xc3\xa9t\xc3\xa9.\xe2\x82\xac"));
    assert_true(L("\xc3\xa9t\xc3\xa9.\xe2\x82\xac"));
    assert_true(ne_subject_valid("a\0b", 3)); /* length-delimited, not NUL-terminated */
    assert_true(V("$JS.API.STREAM.INFO.ORDERS"));
}

static void test_valid_reads_only_the_given_length(void **state)
{
    (void)state;
    assert_true(ne_subject_valid("foo.bar", 3));
    assert_true(ne_subject_valid("foo..bar", 3));
    assert_false(ne_subject_valid("foo..bar", 4));
    assert_true(ne_subject_valid("foo.> bar", 5));
    assert_false(ne_subject_valid_literal("foo.> bar", 5));
}

static void test_valid_literal_rejects_only_wildcard_tokens(void **state)
{
    (void)state;
    assert_true(L("foo"));
    assert_true(L("foo.bar"));
    assert_true(L("$SYS.x"));
    assert_false(L("*"));
    assert_false(L(">"));
    assert_false(L("foo.*"));
    assert_false(L("foo.>"));
    assert_false(L("*.foo"));
    assert_false(L("foo.*.bar"));
    assert_false(L(""));
    assert_false(L("foo..bar"));
    assert_false(L("foo."));
}

static void test_literal_filter_matches_only_the_same_bytes_CP56(void **state)
{
    (void)state;
    assert_true(M("foo", "foo"));
    assert_true(M("foo.bar", "foo.bar"));
    assert_false(M("foo", "Foo"));
    assert_false(M("foo.bar", "foo.BAR"));
    assert_false(M("foo", "foo.bar"));
    assert_false(M("foo.bar", "foo"));
    assert_false(M("foo.bar", "foo.ba"));
    assert_false(M("foo.ba", "foo.bar"));
    assert_true(M("\xc3\xa9", "\xc3\xa9"));
    assert_false(M("\xc3\xa9", "\xc3\xa8"));
}

static void test_star_matches_exactly_one_token_CP54(void **state)
{
    (void)state;
    assert_true(M("*", "foo"));
    assert_false(M("*", "foo.bar"));
    assert_true(M("foo.*", "foo.bar"));
    assert_false(M("foo.*", "foo"));
    assert_false(M("foo.*", "foo.bar.baz"));
    assert_true(M("*.bar", "foo.bar"));
    assert_true(M("foo.*.baz", "foo.x.baz"));
    assert_false(M("foo.*.baz", "foo.x.y.baz"));
    assert_true(M("*.*", "a.b"));
    assert_false(M("*.*", "a"));
}

static void test_full_wildcard_matches_one_or_more_tokens_CP55(void **state)
{
    (void)state;
    assert_false(M("foo.>", "foo"));
    assert_true(M("foo.>", "foo.bar"));
    assert_true(M("foo.>", "foo.bar.baz.qux"));
    assert_false(M("foo.>", "bar.foo"));
    assert_true(M("*.>", "a.b"));
    assert_false(M("*.>", "a"));
    assert_true(M("foo.*.>", "foo.a.b"));
    assert_false(M("foo.*.>", "foo.a"));
}

static void test_lone_full_wildcard_matches_every_subject_including_dollar_CP55(void **state)
{
    (void)state;
    assert_true(M(">", "foo"));
    assert_true(M(">", "foo.bar.baz"));
    assert_true(M(">", "$SYS.SERVER.x"));
    assert_true(M(">", "$JS.API.INFO"));
    assert_true(M(">", "_INBOX.x"));
    assert_true(M("*", "$SYS"));
}

static void test_published_wildcard_characters_are_matched_literally(void **state)
{
    (void)state;
    /* nats-server routes a published "foo.*" to "foo.*" and "foo.>"
     * subscribers, not to "foo.bar". */
    assert_true(M("foo.*", "foo.*"));
    assert_true(M("foo.>", "foo.*"));
    assert_true(M("foo.>", "foo.>"));
    assert_true(M("*.*", "foo.*"));
    assert_false(M("foo.bar", "foo.*"));
    assert_false(M("foo.bar", "foo.>"));
    assert_false(M("foo", "*"));
    assert_true(M("foo*bar", "foo*bar"));
    assert_false(M("foo*bar", "fooxbar"));
}

static void test_subject_with_an_empty_token_matches_nothing(void **state)
{
    (void)state;
    assert_false(M(">", ""));
    assert_false(M(">", "."));
    assert_false(M(">", "foo."));
    assert_false(M(">", ".foo"));
    assert_false(M(">", "foo..bar"));
    assert_false(M("foo.>", "foo.bar."));
    assert_false(M("*", ""));
    assert_false(M("foo.*", "foo."));
    assert_false(M("foo", "foo."));
}

static void test_invalid_filter_matches_nothing(void **state)
{
    (void)state;
    assert_false(M("", ""));
    assert_false(M("", "foo"));
    assert_false(M("foo..bar", "foo..bar"));
    assert_false(M("foo.>.bar", "foo.x.bar"));
    assert_false(M("foo bar", "foo bar"));
    assert_false(M("foo.", "foo."));
}

static void test_matches_reads_only_the_given_lengths(void **state)
{
    (void)state;
    assert_true(ne_subject_matches("foo.barXX", 7, "foo.barYY", 7));
    assert_true(ne_subject_matches("foo.>", 5, "foo.b", 5));
    assert_false(ne_subject_matches("foo.>", 5, "foo.b", 3));
}

static void test_subset_of_literal_and_wildcard_filters(void **state)
{
    (void)state;
    assert_true(SUBSET("foo.bar", "foo.bar"));
    assert_true(SUBSET("foo.bar", "foo.*"));
    assert_true(SUBSET("foo.bar", "foo.>"));
    assert_true(SUBSET("foo.bar", ">"));
    assert_true(SUBSET("foo.*", "foo.*"));
    assert_true(SUBSET("foo.*", "foo.>"));
    assert_true(SUBSET("foo.*", "*.*"));
    assert_true(SUBSET("foo.>", "foo.>"));
    assert_true(SUBSET("foo.>", ">"));
    assert_true(SUBSET("foo.*.>", "foo.>"));
    assert_true(SUBSET("foo.a.>", "foo.*.>"));
    assert_true(SUBSET(">", ">"));
    assert_false(SUBSET("foo.*", "foo.bar"));
    assert_false(SUBSET("foo.>", "foo.*"));
    assert_false(SUBSET("foo.>", "foo.*.>")); /* "foo.x" is not in b */
    assert_false(SUBSET(">", "foo.>"));
    assert_false(SUBSET("foo", "foo.>"));
    assert_false(SUBSET("foo.bar", "foo"));
    assert_false(SUBSET("foo", "foo.bar"));
    assert_false(SUBSET("*", "foo"));
    assert_false(SUBSET("foo.*", "bar.*"));
    assert_false(SUBSET("foo*", "foo*x")); /* '*' inside a token is literal */
    assert_true(SUBSET("foo*", "*"));
}

static void test_subset_of_invalid_filters_is_false(void **state)
{
    (void)state;
    assert_false(SUBSET("", ">"));
    assert_false(SUBSET("foo", ""));
    assert_false(SUBSET("foo..bar", ">"));
    assert_false(SUBSET("foo.>", ">.foo"));
    assert_false(SUBSET("a b", ">"));
}

static void test_token_count_is_dots_plus_one_and_zero_when_empty(void **state)
{
    (void)state;
    assert_int_equal(ne_subject_token_count("", 0), 0);
    assert_int_equal(ne_subject_token_count(NULL, 0), 0);
    assert_int_equal(COUNT("foo"), 1);
    assert_int_equal(COUNT("foo.bar"), 2);
    assert_int_equal(COUNT("a.*.>"), 3);
    assert_int_equal(COUNT("."), 2); /* counts, does not validate */
    assert_int_equal(ne_subject_token_count("a.b.c", 3), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_accepts_literal_and_wildcard_subjects),
        cmocka_unit_test(test_valid_rejects_empty_tokens_CP53),
        cmocka_unit_test(test_valid_rejects_white_space_anywhere_CP53),
        cmocka_unit_test(test_wildcard_characters_inside_a_token_are_literal_CP54),
        cmocka_unit_test(test_full_wildcard_must_be_the_last_token_CP54),
        cmocka_unit_test(test_valid_accepts_utf8_and_any_other_byte_CP56),
        cmocka_unit_test(test_valid_reads_only_the_given_length),
        cmocka_unit_test(test_valid_literal_rejects_only_wildcard_tokens),
        cmocka_unit_test(test_literal_filter_matches_only_the_same_bytes_CP56),
        cmocka_unit_test(test_star_matches_exactly_one_token_CP54),
        cmocka_unit_test(test_full_wildcard_matches_one_or_more_tokens_CP55),
        cmocka_unit_test(test_lone_full_wildcard_matches_every_subject_including_dollar_CP55),
        cmocka_unit_test(test_published_wildcard_characters_are_matched_literally),
        cmocka_unit_test(test_subject_with_an_empty_token_matches_nothing),
        cmocka_unit_test(test_invalid_filter_matches_nothing),
        cmocka_unit_test(test_matches_reads_only_the_given_lengths),
        cmocka_unit_test(test_subset_of_literal_and_wildcard_filters),
        cmocka_unit_test(test_subset_of_invalid_filters_is_false),
        cmocka_unit_test(test_token_count_is_dots_plus_one_and_zero_when_empty),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
