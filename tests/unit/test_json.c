/* Unit tests of the JSON reader (src/json): numbers never overflow, and a
 * document nats-server's decoder would refuse is refused. IDs refer to
 * shared/reference/nats-inventory.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "json/ne_json.h"

static ne_json_doc doc;

static int parse(const char *text)
{
    return ne_json_parse(&doc, text, strlen(text));
}

/* Reads {"n":<text>} as an int64: true with *out, or false. */
static bool read_n(const char *number, int64_t *out)
{
    static char text[128];
    strcpy(text, "{\"n\":");
    strcat(text, number);
    strcat(text, "}");
    assert_int_equal(parse(text), NE_OK);
    return ne_json_get_i64(&doc, 0, "n", out);
}

/* Issue 13 item 9: 9999999999999999999 was accumulated in an int64 and
 * overflowed (UBSan: signed integer overflow); every number beyond int64 is
 * now refused, the two ends of the range read exactly. */
static void test_i64_refuses_numbers_beyond_int64_CP18(void **state)
{
    (void)state;
    int64_t v = 42;
    assert_false(read_n("9999999999999999999", &v));
    assert_false(read_n("9223372036854775808", &v));
    assert_false(read_n("-9223372036854775809", &v));
    assert_false(read_n("18446744073709551617", &v));
    assert_false(read_n("100000000000000000000000000000", &v));
    assert_int_equal(v, 42); /* untouched on failure */
    assert_true(read_n("9223372036854775807", &v));
    assert_true(v == INT64_MAX);
    assert_true(read_n("-9223372036854775808", &v));
    assert_true(v == INT64_MIN);
    assert_true(read_n("-0", &v));
    assert_int_equal(v, 0);
    assert_true(read_n("1", &v));
    assert_int_equal(v, 1);
}

/* nats-server decodes CONNECT's protocol into a Go int: a fraction or an
 * exponent is not an integer. */
static void test_i64_refuses_fractions_and_exponents(void **state)
{
    (void)state;
    int64_t v = 7;
    assert_false(read_n("1.0", &v));
    assert_false(read_n("1e0", &v));
    assert_false(read_n("-1.5E+3", &v));
    assert_false(read_n("\"1\"", &v));
    assert_false(read_n("true", &v));
    assert_int_equal(v, 7);
}

/* nats-server decodes sequences (STREAM.MSG.GET's seq, purge's keep,
 * opt_start_seq) into a Go uint64: the whole range reads, a sign, a
 * fraction and anything beyond it do not. */
static void test_u64_reads_the_whole_range(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "18446744073709551616", "99999999999999999999", "-1", "-0", "1.0", "1e3", "\"5\"", "true"};
    uint64_t v = 9;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        char text[64];
        snprintf(text, sizeof(text), "[%s]", refused[i]);
        assert_int_equal(parse(text), NE_OK);
        assert_false(ne_json_token_u64(&doc, 1, &v));
    }
    assert_true(v == 9); /* untouched on failure */
    assert_int_equal(parse("[18446744073709551615,0,1]"), NE_OK);
    assert_true(ne_json_token_u64(&doc, 1, &v));
    assert_true(v == UINT64_MAX);
    assert_true(ne_json_token_u64(&doc, 2, &v));
    assert_true(v == 0);
    assert_true(ne_json_token_u64(&doc, 3, &v));
    assert_true(v == 1);
}

/* jsmn alone takes any unquoted word as a value; JSON does not (CP-22). */
static void test_parse_refuses_what_is_not_json_CP22(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"a\":tru}",
        "{\"a\":nul}",
        "{\"a\":01}",
        "{\"a\":-00}",
        "{\"a\":+1}",
        "{\"a\":1.}",
        "{\"a\":.5}",
        "{\"a\":1e}",
        "{\"a\":-}",
        "{a:1}",
        "{\"a\":1:2}",
        "{\"a\":\"x\ty\"}",
        "{\"a\":\"\x01\"}",
        "{\"a\":1} x",
        "{\"a\":{\"b\":nul}}",
        "{\"a\":[1,]}",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\":}",
        "{\"a\":[1 2]}",
        "{\"a\" 1}",
        "{\"a\":1,,\"b\":2}",
        "{\"a\"::1}",
        "{\"a\":[,1]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (parse(bad[i]) == NE_OK) {
            fail_msg("accepted %s", bad[i]);
        }
    }
    static const char *const good[] = {
        "{\"a\":true,\"b\":false,\"c\":null}",
        "{\"a\":0,\"b\":-0,\"c\":1.5e400,\"d\":-12.25E-3,\"e\":99999999999999999999}",
        "{\"a\":[1,{\"b\":\"x\\ty\\u0001\"}]}",
        "{\"a\":[],\"b\":{},\"c\":[[],{\"d\":[1,2]}],\"e\":\"\\\"]},\"}",
        " {\"a\" : 1 } \r\n",
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        if (parse(good[i]) != NE_OK) {
            fail_msg("refused %s", good[i]);
        }
    }
}

/* The types nats-server decodes CONNECT's fields into: absent or null is
 * fine, another type or an integer beyond int64 is not. */
static void test_check_kinds_as_go_decodes_them_CP15(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"b\":true,\"i\":-3,\"s\":\"x\",\"n\":null,\"big\":1e3,"
                           "\"huge\":9999999999999999999}"),
                     NE_OK);
    assert_int_equal(ne_json_check(&doc, 0, "b", NE_JSON_BOOL), NE_OK);
    assert_int_equal(ne_json_check(&doc, 0, "i", NE_JSON_INT), NE_OK);
    assert_int_equal(ne_json_check(&doc, 0, "s", NE_JSON_STRING), NE_OK);
    assert_int_equal(ne_json_check(&doc, 0, "n", NE_JSON_BOOL), NE_OK);
    assert_int_equal(ne_json_check(&doc, 0, "n", NE_JSON_INT), NE_OK);
    assert_int_equal(ne_json_check(&doc, 0, "n", NE_JSON_STRING), NE_OK);
    assert_int_equal(ne_json_check(&doc, 0, "absent", NE_JSON_INT), NE_OK);
    assert_int_equal(ne_json_check(&doc, 0, "b", NE_JSON_INT), NE_ERR_INVALID);
    assert_int_equal(ne_json_check(&doc, 0, "i", NE_JSON_BOOL), NE_ERR_INVALID);
    assert_int_equal(ne_json_check(&doc, 0, "i", NE_JSON_STRING), NE_ERR_INVALID);
    assert_int_equal(ne_json_check(&doc, 0, "s", NE_JSON_INT), NE_ERR_INVALID);
    assert_int_equal(ne_json_check(&doc, 0, "big", NE_JSON_INT), NE_ERR_INVALID);
    assert_int_equal(ne_json_check(&doc, 0, "huge", NE_JSON_INT), NE_ERR_INVALID);
}

static void test_string_reads_are_bounded(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"s\":\"ab\\u00e9\\n\"}"), NE_OK);
    char buf[8];
    size_t len = 0;
    assert_true(ne_json_get_string(&doc, 0, "s", buf, sizeof(buf), &len));
    assert_int_equal(len, 5);
    assert_memory_equal(buf, "ab\xc3\xa9\n", 6);
    /* The string and its NUL need 6 bytes. */
    assert_false(ne_json_get_string(&doc, 0, "s", buf, 5, &len));
    assert_true(ne_json_get_string(&doc, 0, "s", buf, 6, &len));
}

/* A fixed field keeps what fits of a string, cut after a whole character:
 * an escape, a \\u escape's UTF-8 bytes or a raw UTF-8 sequence is never
 * halved. */
static void test_string_cut_keeps_whole_characters(void **state)
{
    (void)state;
    assert_int_equal(parse("{\"s\":\"ab\\u00e9c\",\"r\":\"ab\xc3\xa9"
                           "c\",\"e\":\"a\\nb\"}"),
                     NE_OK);
    char buf[8];
    size_t len = 0;
    bool cut = true;
    int s = ne_json_find(&doc, 0, "s"), r = ne_json_find(&doc, 0, "r"),
        e = ne_json_find(&doc, 0, "e");
    assert_true(ne_json_token_string_cut(&doc, s, buf, 6, &len, &cut));
    assert_false(cut);
    assert_string_equal(buf, "ab\xc3\xa9"
                             "c");
    for (int idx = 0; idx < 2; idx++) {
        int tok = idx == 0 ? s : r;
        assert_true(ne_json_token_string_cut(&doc, tok, buf, 5, &len, &cut));
        assert_true(cut);
        assert_string_equal(buf, "ab\xc3\xa9");
        assert_true(ne_json_token_string_cut(&doc, tok, buf, 4, &len, &cut)); /* room for 3 */
        assert_true(cut);
        assert_int_equal(len, 2);
        assert_string_equal(buf, "ab");
    }
    assert_true(ne_json_token_string_cut(&doc, e, buf, 3, &len, &cut));
    assert_string_equal(buf, "a\n");
    assert_true(ne_json_token_string_cut(&doc, e, buf, 2, &len, &cut));
    assert_string_equal(buf, "a");
    assert_false(ne_json_token_string_cut(&doc, e, buf, 0, &len, &cut));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_i64_refuses_numbers_beyond_int64_CP18),
        cmocka_unit_test(test_i64_refuses_fractions_and_exponents),
        cmocka_unit_test(test_u64_reads_the_whole_range),
        cmocka_unit_test(test_parse_refuses_what_is_not_json_CP22),
        cmocka_unit_test(test_check_kinds_as_go_decodes_them_CP15),
        cmocka_unit_test(test_string_reads_are_bounded),
        cmocka_unit_test(test_string_cut_keeps_whole_characters),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
