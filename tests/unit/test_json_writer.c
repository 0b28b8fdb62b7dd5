/* Unit tests of the streaming JSON writer (src/json/ne_json_writer.c): a
 * document of any length goes through a small piece buffer to a sink
 * whole, strings escaped, or the writer reports why it could not. The
 * module uses no pool, so there is nothing to check back to idle after a
 * test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "json/ne_json_writer.h"

/* What the sink received, and how it behaves. */
typedef struct sink_state {
    char text[65536];
    size_t len;
    unsigned calls;
    unsigned fail_at_call; /* 0: never fail */
    size_t largest_piece;
} sink_state;

static sink_state sink;

static int test_sink(void *ctx, const void *bytes, size_t len)
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

/* The escaped form nats-server's clients must be able to parse. */
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

static void test_a_string_longer_than_a_piece_arrives_whole_and_escaped(void **state)
{
    (void)state;
    /* Every control byte, quotes and backslashes, many times over: the
     * escaped text is six times the input, far beyond one piece. */
    char in[2000];
    for (size_t i = 0; i < sizeof(in); i++) {
        static const char extra[] = "\"\\a";
        in[i] = i % 35 < 32 ? (char)(i % 35) : extra[i % 35 - 32];
    }
    static char want[16000];
    size_t want_len = expected_escape(in, sizeof(in), want, sizeof(want));
    const size_t piece_sizes[] = {64, 65, 100, 1024};
    for (size_t p = 0; p < sizeof(piece_sizes) / sizeof(piece_sizes[0]); p++) {
        sink_reset();
        char buf[1024];
        ne_json_writer w;
        ne_json_writer_init(&w, buf, piece_sizes[p], test_sink, &sink);
        ne_json_writer_string(&w, in, sizeof(in));
        assert_int_equal(ne_json_writer_finish(&w), NE_OK);
        assert_int_equal(sink.len, want_len);
        assert_memory_equal(sink.text, want, want_len);
        assert_true(sink.largest_piece < piece_sizes[p]);
        assert_true(sink.calls > 1);
    }
}

static void test_members_numbers_and_raw_text_form_an_object(void **state)
{
    (void)state;
    sink_reset();
    char buf[64];
    ne_json_writer w;
    ne_json_writer_init(&w, buf, sizeof(buf), test_sink, &sink);
    bool first = true;
    ne_json_writer_puts(&w, "{");
    ne_json_writer_key(&w, &first, "a");
    ne_json_writer_u64(&w, UINT64_MAX);
    ne_json_writer_key(&w, &first, "b\"c");
    ne_json_writer_string(&w, "x\ny", 3);
    ne_json_writer_key(&w, &first, "long");
    char raw[300];
    memset(raw, '7', sizeof(raw));
    ne_json_writer_raw(&w, raw, sizeof(raw));
    ne_json_writer_puts(&w, "}");
    assert_int_equal(ne_json_writer_finish(&w), NE_OK);
    char want[512];
    int n = snprintf(want, sizeof(want),
                     "{\"a\":18446744073709551615,\"b\\\"c\":\"x\\u000ay\",\"long\":%.*s}",
                     (int)sizeof(raw), raw);
    assert_int_equal(sink.len, (size_t)n);
    assert_memory_equal(sink.text, want, (size_t)n);
}

static void test_room_flushes_first_and_refuses_more_than_a_piece(void **state)
{
    (void)state;
    sink_reset();
    char buf[64];
    ne_json_writer w;
    ne_json_writer_init(&w, buf, sizeof(buf), test_sink, &sink);
    char fill[60];
    memset(fill, 'f', sizeof(fill));
    ne_json_writer_raw(&w, fill, sizeof(fill));
    assert_int_equal(sink.calls, 0);
    ne_strbuf *sb = ne_json_writer_room(&w, 20);
    assert_non_null(sb);
    assert_int_equal(sink.calls, 1); /* the 60 bytes went first */
    ne_strbuf_puts(sb, "twenty bytes exactly");
    assert_int_equal(ne_json_writer_finish(&w), NE_OK);
    assert_int_equal(sink.len, 80);
    /* More than a piece can ever hold: an error, not a cut. */
    sink_reset();
    ne_json_writer_init(&w, buf, sizeof(buf), test_sink, &sink);
    assert_null(ne_json_writer_room(&w, sizeof(buf)));
    ne_json_writer_puts(&w, "ignored");
    assert_int_equal(ne_json_writer_finish(&w), NE_ERR_TOO_BIG);
    assert_int_equal(sink.calls, 0);
}

static void test_writing_past_the_room_asked_for_is_an_error(void **state)
{
    (void)state;
    sink_reset();
    char buf[64];
    ne_json_writer w;
    ne_json_writer_init(&w, buf, sizeof(buf), test_sink, &sink);
    ne_strbuf *sb = ne_json_writer_room(&w, 8);
    assert_non_null(sb);
    char big[100];
    memset(big, 'b', sizeof(big));
    ne_strbuf_append(sb, big, sizeof(big)); /* the builder cuts it and says so */
    assert_int_equal(ne_json_writer_finish(&w), NE_ERR_TOO_BIG);
    assert_int_equal(sink.calls, 0);
}

static void test_a_refusing_sink_stops_the_document(void **state)
{
    (void)state;
    sink_reset();
    sink.fail_at_call = 2;
    char buf[64];
    ne_json_writer w;
    ne_json_writer_init(&w, buf, sizeof(buf), test_sink, &sink);
    char text[1000];
    memset(text, 's', sizeof(text));
    ne_json_writer_string(&w, text, sizeof(text));
    ne_json_writer_puts(&w, "more");
    assert_int_equal(ne_json_writer_finish(&w), NE_ERR_NOMEM);
    /* The second piece was refused; nothing was offered after it. */
    assert_int_equal(sink.calls, 2);
    assert_true(sink.len > 0 && sink.len < sizeof(buf));
    assert_null(ne_json_writer_room(&w, 1));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_a_string_longer_than_a_piece_arrives_whole_and_escaped),
        cmocka_unit_test(test_members_numbers_and_raw_text_form_an_object),
        cmocka_unit_test(test_room_flushes_first_and_refuses_more_than_a_piece),
        cmocka_unit_test(test_writing_past_the_room_asked_for_is_an_error),
        cmocka_unit_test(test_a_refusing_sink_stops_the_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
