/* Unit tests of the streaming JSON writer (src/json/ne_json_out.c): a
 * document of any length goes through a small buffer to a sink whole, with
 * the commas and escapes JSON needs, or the writer reports why it could
 * not. The module uses no pool, so there is nothing to check back to idle
 * after a test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "json/ne_json_out.h"

/* What the sink received, and how it behaves. */
typedef struct sink_state {
    char text[65536];
    size_t len;
    unsigned calls;
    unsigned fail_at_call; /* 0: never fail */
    size_t largest_piece;
} sink_state;

static sink_state sink;

static int test_sink(void *ctx, const char *bytes, size_t len)
{
    assert_ptr_equal(ctx, &sink);
    sink.calls++;
    if (sink.fail_at_call != 0 && sink.calls >= sink.fail_at_call) {
        return NE_ERR_NOMEM;
    }
    assert_true(sink.len + len <= sizeof(sink.text));
    memcpy(sink.text + sink.len, bytes, len);
    sink.len += len;
    if (len > sink.largest_piece) {
        sink.largest_piece = len;
    }
    return NE_OK;
}

static void sink_reset(void)
{
    memset(&sink, 0, sizeof(sink));
}

static void assert_sink_is(const char *want)
{
    assert_int_equal(sink.len, strlen(want));
    assert_memory_equal(sink.text, want, sink.len);
}

/* The escaped form every JSON parser reads back. */
static size_t expected_escape(const char *in, size_t len, char *out, size_t cap)
{
    size_t n = 0;
    out[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        assert_true(n + 7 < cap);
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    out[n++] = '"';
    return n;
}

static void test_a_string_longer_than_the_buffer_arrives_whole_and_escaped(void **state)
{
    (void)state;
    /* Every control byte, quotes and backslashes, many times over: the
     * escaped text is about six times the input, far beyond one buffer. */
    char in[2000];
    for (size_t i = 0; i < sizeof(in); i++) {
        static const char extra[] = "\"\\a";
        in[i] = i % 35 < 32 ? (char)(i % 35) : extra[i % 35 - 32];
    }
    static char want[16000];
    size_t want_len = expected_escape(in, sizeof(in), want, sizeof(want));
    const size_t caps[] = {NE_JSON_OUT_MIN_BYTES, NE_JSON_OUT_MIN_BYTES + 1, 100, 1024};
    for (size_t p = 0; p < sizeof(caps) / sizeof(caps[0]); p++) {
        sink_reset();
        char buf[1024];
        ne_json_out o;
        ne_json_out_init(&o, buf, caps[p], test_sink, &sink);
        ne_json_string(&o, in, sizeof(in));
        assert_int_equal(ne_json_out_finish(&o), NE_OK);
        assert_int_equal(sink.len, want_len);
        assert_memory_equal(sink.text, want, want_len);
        assert_true(sink.largest_piece <= caps[p]);
        assert_true(sink.calls > 1);
        assert_int_equal(o.total, want_len);
    }
}

static void test_members_and_elements_get_their_commas_and_escapes(void **state)
{
    (void)state;
    sink_reset();
    char buf[NE_JSON_OUT_MIN_BYTES];
    ne_json_out o;
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    char raw[300];
    memset(raw, '7', sizeof(raw) - 1);
    raw[sizeof(raw) - 1] = '\0';
    ne_json_begin_object(&o);
    ne_json_kv_u64(&o, "a", UINT64_MAX);
    ne_json_kv_i64(&o, "min", INT64_MIN);
    ne_json_kv_string(&o, "b\"c", "x\ny");
    ne_json_key(&o, "list");
    ne_json_begin_array(&o);
    ne_json_u64(&o, 1);
    ne_json_begin_object(&o);
    ne_json_end_object(&o);
    ne_json_begin_array(&o);
    ne_json_end_array(&o);
    ne_json_bool(&o, false);
    ne_json_end_array(&o);
    ne_json_key(&o, "rate");
    ne_json_milli(&o, 1250);
    ne_json_kv_duration(&o, "d", 1500000000ull);
    ne_json_kv_raw(&o, "long", raw);
    ne_json_end_object(&o);
    assert_int_equal(ne_json_out_finish(&o), NE_OK);
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"a\":18446744073709551615,\"min\":-9223372036854775808,\"b\\\"c\":\"x\\u000ay\","
             "\"list\":[1,{},[],false],\"rate\":1.250,\"d\":\"1.5s\",\"long\":%s}",
             raw);
    assert_sink_is(want);
}

static void test_nesting_past_the_limit_is_an_error_not_a_cut(void **state)
{
    (void)state;
    sink_reset();
    char buf[NE_JSON_OUT_MIN_BYTES];
    ne_json_out o;
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    /* At the limit: fine. */
    for (int i = 0; i < NE_JSON_OUT_MAX_DEPTH; i++) {
        ne_json_begin_array(&o);
    }
    for (int i = 0; i < NE_JSON_OUT_MAX_DEPTH; i++) {
        ne_json_end_array(&o);
    }
    assert_int_equal(ne_json_out_finish(&o), NE_OK);
    assert_int_equal(sink.len, 2 * NE_JSON_OUT_MAX_DEPTH);
    /* One past it: the writer stops and says so. */
    sink_reset();
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    for (int i = 0; i <= NE_JSON_OUT_MAX_DEPTH; i++) {
        ne_json_begin_array(&o);
    }
    assert_int_equal(ne_json_out_finish(&o), NE_ERR_TOO_BIG);
}

static void test_a_malformed_document_is_refused(void **state)
{
    (void)state;
    char buf[NE_JSON_OUT_MIN_BYTES];
    ne_json_out o;
    /* A key inside an array. */
    sink_reset();
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    ne_json_begin_array(&o);
    ne_json_key(&o, "k");
    ne_json_end_array(&o);
    assert_int_equal(ne_json_out_finish(&o), NE_ERR_INVALID);
    /* Closing what was not opened. */
    sink_reset();
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    ne_json_begin_object(&o);
    ne_json_end_array(&o);
    assert_int_equal(ne_json_out_finish(&o), NE_ERR_INVALID);
    /* Left open. */
    sink_reset();
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    ne_json_begin_object(&o);
    assert_int_equal(ne_json_out_finish(&o), NE_ERR_INVALID);
    /* A key without its value. */
    sink_reset();
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    ne_json_begin_object(&o);
    ne_json_key(&o, "k");
    ne_json_end_object(&o);
    assert_int_equal(ne_json_out_finish(&o), NE_ERR_INVALID);
}

static void test_a_refusing_sink_stops_the_document(void **state)
{
    (void)state;
    sink_reset();
    sink.fail_at_call = 2;
    char buf[NE_JSON_OUT_MIN_BYTES];
    ne_json_out o;
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    char text[1000];
    memset(text, 's', sizeof(text));
    ne_json_begin_object(&o);
    ne_json_key(&o, "text");
    ne_json_string(&o, text, sizeof(text));
    ne_json_kv_u64(&o, "more", 1);
    ne_json_end_object(&o);
    assert_int_equal(ne_json_out_finish(&o), NE_ERR_NOMEM);
    /* The second piece was refused; nothing was offered after it. */
    assert_int_equal(sink.calls, 2);
    assert_int_equal(sink.len, sizeof(buf));
}

/* The leaf hub streams members after an INFO written elsewhere: raw text
 * at the top level, then values, with no separator of the writer's own. */
static void test_raw_text_and_values_at_the_top_level(void **state)
{
    (void)state;
    sink_reset();
    char buf[NE_JSON_OUT_MIN_BYTES];
    ne_json_out o;
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    ne_json_raw(&o, ",\"import\":");
    ne_json_begin_object(&o);
    ne_json_key(&o, "allow");
    ne_json_begin_array(&o);
    ne_json_cstring(&o, "a.>");
    ne_json_cstring(&o, "b q");
    ne_json_end_array(&o);
    ne_json_end_object(&o);
    ne_json_raw(&o, "}\r\n");
    assert_int_equal(ne_json_out_finish(&o), NE_OK);
    assert_sink_is(",\"import\":{\"allow\":[\"a.>\",\"b q\"]}}\r\n");
}

static void read_text(void *ctx, size_t offset, void *dst, size_t len)
{
    memcpy(dst, (const char *)ctx + offset, len);
}

/* Base64 of inputs of every length around the 3-byte groups and the
 * 48-byte reads, as RFC 4648's examples and a long one. */
static void test_base64_values_in_pieces(void **state)
{
    (void)state;
    static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const out[] = {"\"\"",         "\"Zg==\"",     "\"Zm8=\"",    "\"Zm9v\"",
                                      "\"Zm9vYg==\"", "\"Zm9vYmE=\"", "\"Zm9vYmFy\""};
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        sink_reset();
        char buf[NE_JSON_OUT_MIN_BYTES];
        ne_json_out o;
        ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
        ne_json_base64(&o, read_text, (void *)in[i], strlen(in[i]));
        assert_int_equal(ne_json_out_finish(&o), NE_OK);
        assert_sink_is(out[i]);
    }
    /* 100 bytes: two full reads and a partial one; 0xff bytes test '/'. */
    char bytes[100];
    memset(bytes, 0xff, sizeof(bytes));
    sink_reset();
    char buf[NE_JSON_OUT_MIN_BYTES];
    ne_json_out o;
    ne_json_out_init(&o, buf, sizeof(buf), test_sink, &sink);
    ne_json_begin_object(&o);
    ne_json_key(&o, "data");
    ne_json_base64(&o, read_text, bytes, sizeof(bytes));
    ne_json_end_object(&o);
    assert_int_equal(ne_json_out_finish(&o), NE_OK);
    char want[200];
    size_t n = 0;
    n += (size_t)snprintf(want + n, sizeof(want) - n, "{\"data\":\"");
    for (int k = 0; k < 33; k++) {
        n += (size_t)snprintf(want + n, sizeof(want) - n, "////");
    }
    snprintf(want + n, sizeof(want) - n, "/w==\"}");
    assert_sink_is(want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_string_longer_than_the_buffer_arrives_whole_and_escaped),
        cmocka_unit_test(test_members_and_elements_get_their_commas_and_escapes),
        cmocka_unit_test(test_nesting_past_the_limit_is_an_error_not_a_cut),
        cmocka_unit_test(test_a_malformed_document_is_refused),
        cmocka_unit_test(test_a_refusing_sink_stops_the_document),
        cmocka_unit_test(test_raw_text_and_values_at_the_top_level),
        cmocka_unit_test(test_base64_values_in_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
