/* Unit tests of the bounded formatter (src/core/ne_fmt): every writer takes
 * its capacity and says when the output did not fit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_fmt.h"

static void test_fmt_returns_zero_when_the_output_does_not_fit(void **state)
{
    (void)state;
    char out[16];
    memset(out, '#', sizeof(out));
    assert_int_equal(ne_fmt(out, 6, "%s", "hello"), 5);
    assert_string_equal(out, "hello");
    /* One byte short (the NUL): 0, and the cut text for a log. */
    memset(out, '#', sizeof(out));
    assert_int_equal(ne_fmt(out, 5, "%s", "hello"), 0);
    assert_string_equal(out, "hell");
    assert_int_equal(out[4], '\0');
    assert_int_equal(out[5], '#');
    assert_int_equal(ne_fmt(out, 0, "%s", "x"), 0);
    assert_int_equal(out[0], 'h'); /* cap 0 writes nothing */
    assert_int_equal(ne_fmt(out, sizeof(out), "%.*s|%llu", 3, "abcdef", 12345ull), 9);
    assert_string_equal(out, "abc|12345");
}

static void test_fmt_u64_takes_its_capacity(void **state)
{
    (void)state;
    char out[24];
    memset(out, '#', sizeof(out));
    assert_int_equal(ne_fmt_u64(out, 20, UINT64_MAX), 20);
    assert_memory_equal(out, "18446744073709551615", 20);
    memset(out, '#', sizeof(out));
    assert_int_equal(ne_fmt_u64(out, 19, UINT64_MAX), 0);
    assert_int_equal(out[0], '#');
    assert_int_equal(ne_fmt_u64(out, 1, 0), 1);
    assert_int_equal(out[0], '0');
    assert_int_equal(ne_fmt_u64(out, 0, 0), 0);
    assert_int_equal(ne_fmt_u64(out, 3, 100), 3);
    assert_int_equal(ne_fmt_u64(out, 2, 100), 0);
}

static void test_strbuf_sets_truncated_and_never_overruns(void **state)
{
    (void)state;
    char out[8];
    memset(out, '#', sizeof(out));
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, 6);
    ne_strbuf_json_string(&sb, "\x01", 1); /* "\u0001" with quotes: 8 bytes */
    assert_true(sb.truncated);
    assert_int_equal(sb.len, 5);
    assert_int_equal(out[5], '\0');
    assert_int_equal(out[6], '#');
    ne_strbuf_init(&sb, out, 0);
    ne_strbuf_puts(&sb, "x");
    assert_true(sb.truncated);
}

/* Plain runs, quotes, backslashes and control characters anywhere in a
 * string, and a run cut by the capacity. */
static void test_strbuf_json_string_escapes_between_plain_runs(void **state)
{
    (void)state;
    char out[64];
    ne_strbuf sb;
    ne_strbuf_init(&sb, out, sizeof(out));
    ne_strbuf_json_string(&sb, "\"ab\\c\nd\x1f", 8);
    assert_false(sb.truncated);
    assert_string_equal(out, "\"\\\"ab\\\\c\\u000ad\\u001f\"");
    ne_strbuf_init(&sb, out, sizeof(out));
    ne_strbuf_json_string(&sb, "stream", 6);
    assert_string_equal(out, "\"stream\"");
    ne_strbuf_init(&sb, out, 5);
    ne_strbuf_json_string(&sb, "abcdef", 6);
    assert_true(sb.truncated);
    assert_string_equal(out, "\"abc");
}

/* mbedtls_strerror's unknown code, "UNKNOWN ERROR CODE (%04X)", and the
 * x509 serials' %02X: upper-case hex with a width and the '0' flag. */
static void test_fmt_upper_case_hex_takes_width_and_zero_flag(void **state)
{
    (void)state;
    char out[48];
    assert_int_equal(ne_fmt(out, sizeof(out), "UNKNOWN ERROR CODE (%04X)", 0x2a), 25);
    assert_string_equal(out, "UNKNOWN ERROR CODE (002A)");
    assert_int_equal(ne_fmt(out, sizeof(out), "%04X|%02X|%X|%x", 0x7780, 0xab, 0xbeefu, 0xbeefu),
                     17);
    assert_string_equal(out, "7780|AB|BEEF|beef");
    assert_int_equal(
        ne_fmt(out, sizeof(out), "%lX %llX %zX", 0xcafeul, 0xdeadbeefcafeull, (size_t)0x10), 20);
    assert_string_equal(out, "CAFE DEADBEEFCAFE 10");
    /* The one argument is consumed: what follows reads its own. */
    assert_int_equal(ne_fmt(out, sizeof(out), "%04X %s", 0x1, "next"), 9);
    assert_string_equal(out, "0001 next");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_returns_zero_when_the_output_does_not_fit),
        cmocka_unit_test(test_fmt_u64_takes_its_capacity),
        cmocka_unit_test(test_strbuf_sets_truncated_and_never_overruns),
        cmocka_unit_test(test_strbuf_json_string_escapes_between_plain_runs),
        cmocka_unit_test(test_fmt_upper_case_hex_takes_width_and_zero_flag),
    };
    return cmocka_run_group_tests_name("fmt", tests, NULL, NULL);
}
