/* Unit tests of the control-line parser (src/proto). IDs name the
 * nats-server behaviour from shared/reference/nats-inventory.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto/ne_proto.h"

static ne_proto_status parse(const char *line, ne_op *op)
{
    return ne_proto_parse_line(line, strlen(line), op);
}

static void assert_slice(ne_slice s, const char *want)
{
    assert_int_equal(s.len, strlen(want));
    assert_memory_equal(s.ptr, want, s.len);
}

static void test_pub_with_and_without_reply(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("PUB foo 5", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_PUB);
    assert_slice(op.subject, "foo");
    assert_int_equal(op.reply.len, 0);
    assert_int_equal(op.total_len, 5);
    assert_int_equal(parse("PUB foo bar 11", &op), NE_PROTO_OK);
    assert_slice(op.reply, "bar");
    assert_int_equal(op.total_len, 11);
}

/* The fast path for plain PUB lines gives the full parser's answer on the
 * lines at its edges: blanks doubled or trailing, tabs, a third argument,
 * leading zeros, sizes of 9, 10 and 11 digits. */
static void test_pub_fast_path_agrees_with_the_full_parser(void **state)
{
    (void)state;
    const char *lines[] = {
        "PUB foo 5",
        "PUB foo bar 5",
        "PUB  foo 5",
        "PUB foo  5",
        "PUB foo bar  5",
        "PUB foo 5 ",
        "PUB foo\t5",
        "PUB foo bar\t5",
        "PUB f\to 5",
        "PUB a b c 5",
        "PUB foo 007",
        "PUB foo 0",
        "PUB foo 999999999",
        "PUB foo 2147483647",
        "PUB foo 2147483648",
        "PUB foo 12345678901",
        "PUB foo",
        "PUB 5",
        "PUB  5",
        "PUB x 5x",
        "PUB x -5",
        "PUB x +5",
        "PUB x  ",
        "PUB x y z",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        ne_op a, b;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        ne_proto_status sa = ne_proto_parse_line(lines[i], strlen(lines[i]), &a);
        ne_proto_status sb = ne_proto_parse_line_full(lines[i], strlen(lines[i]), &b);
        if (sa != sb) {
            fail_msg("%s: fast %d, full %d", lines[i], (int)sa, (int)sb);
        }
        if (sa == NE_PROTO_OK) {
            assert_int_equal(a.kind, b.kind);
            assert_int_equal(a.total_len, b.total_len);
            assert_int_equal(a.subject.len, b.subject.len);
            assert_memory_equal(a.subject.ptr, b.subject.ptr, a.subject.len);
            assert_int_equal(a.reply.len, b.reply.len);
            if (a.reply.len > 0) {
                assert_memory_equal(a.reply.ptr, b.reply.ptr, a.reply.len);
            }
        }
    }
}

static void test_verbs_are_case_insensitive_CP01(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("pub a 1", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_PUB);
    assert_int_equal(parse("SuB a 1", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_SUB);
    assert_int_equal(parse("ping", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_PING);
    assert_int_equal(parse("Connect {}", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_CONNECT);
}

static void test_args_split_on_runs_of_spaces_and_tabs_CP02(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("PUB  a \t  0", &op), NE_PROTO_OK);
    assert_slice(op.subject, "a");
    assert_int_equal(op.total_len, 0);
    assert_int_equal(parse("SUB\tfoo\tq\t7", &op), NE_PROTO_OK);
    assert_slice(op.queue, "q");
    assert_slice(op.sid, "7");
}

static void test_ping_pong_ignore_trailing_bytes_CP04(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("PING extra", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_PING);
    assert_int_equal(parse("PONG", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_PONG);
}

static void test_hpub_sizes_and_header_larger_than_total_CP26(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("HPUB foo reply 12 20", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_HPUB);
    assert_slice(op.reply, "reply");
    assert_int_equal(op.hdr_len, 12);
    assert_int_equal(op.total_len, 20);
    assert_int_equal(parse("HPUB foo 21 20", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("HPUB foo 20", &op), NE_PROTO_BAD_ARGS);
}

static void test_sub_with_queue_and_unsub_with_max_CP33_CP39(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("SUB foo.* workers 42", &op), NE_PROTO_OK);
    assert_slice(op.subject, "foo.*");
    assert_slice(op.queue, "workers");
    assert_slice(op.sid, "42");
    assert_int_equal(parse("UNSUB 42 5", &op), NE_PROTO_OK);
    assert_slice(op.sid, "42");
    assert_int_equal(op.max_msgs, 5);
    assert_int_equal(parse("UNSUB 42", &op), NE_PROTO_OK);
    assert_int_equal(op.max_msgs, 0);
    assert_int_equal(parse("UNSUB 42 999999999", &op), NE_PROTO_OK);
    assert_int_equal(op.max_msgs, 999999999);
}

/* nats-server 2.9.10, probed: a maximum that is not a size of at most 9
 * digits (parseSize) is no maximum at all: the subscription is removed at
 * once, the connection stays. natsedge kept a maximum of up to 2^63 - 1 and
 * closed the connection on anything else. */
static void test_unsub_max_that_is_not_a_size_removes_at_once_CP39(void **state)
{
    (void)state;
    static const char *const lines[] = {"UNSUB 42 1000000000",
                                        "UNSUB 42 9223372036854775807",
                                        "UNSUB 42 99999999999999999999",
                                        "UNSUB 42 -1",
                                        "UNSUB 42 x",
                                        "UNSUB 42 0000000005"};
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        ne_op op;
        assert_int_equal(parse(lines[i], &op), NE_PROTO_OK);
        assert_slice(op.sid, "42");
        assert_int_equal(op.max_msgs, 0);
    }
}

/* Sizes of more than 9 digits close without -ERR, as in nats-server, even
 * with leading zeros or below max_payload (CP-06). */
static void test_sizes_of_more_than_nine_digits_are_bad_args_CP06(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("PUB foo 000000005", &op), NE_PROTO_OK);
    assert_int_equal(op.total_len, 5);
    assert_int_equal(parse("PUB foo 0000000005", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("PUB foo 1000000000", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("PUB foo r 1000000000", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("HPUB foo 12 1000000000", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("HPUB foo 1000000000 1000000001", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("HPUB foo 12 999999999", &op), NE_PROTO_OK);
}

static void test_argument_errors_are_bad_args_CP06(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("SUB foo", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("PUB foo", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("PUB foo -1", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("PUB foo 99999999999999999999", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("PUB foo x", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("PUB a b c 1", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("UNSUB", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("UNSUB 1 2 3", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("SUB a b c d", &op), NE_PROTO_BAD_ARGS);
}

static void test_unknown_verbs_CP05(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("FOO bar", &op), NE_PROTO_UNKNOWN_OP);
    assert_int_equal(parse("", &op), NE_PROTO_UNKNOWN_OP);
    assert_int_equal(parse("PUBX a 1", &op), NE_PROTO_UNKNOWN_OP);
    assert_int_equal(parse(" PUB a 1", &op), NE_PROTO_UNKNOWN_OP);
    assert_int_equal(parse("RS+ foo", &op), NE_PROTO_UNKNOWN_OP);
}

static void test_msg_and_hmsg_forms_CP41_CP42(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("MSG foo 1 5", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_MSG);
    assert_slice(op.sid, "1");
    assert_int_equal(op.total_len, 5);
    assert_int_equal(parse("MSG foo 1 r 5", &op), NE_PROTO_OK);
    assert_slice(op.reply, "r");
    assert_int_equal(parse("HMSG foo 1 r 3 5", &op), NE_PROTO_OK);
    assert_int_equal(op.hdr_len, 3);
    assert_int_equal(op.total_len, 5);
}

static void test_leaf_interest_lines_LN10(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("LS+ foo", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_LS_PLUS);
    assert_int_equal(parse("LS+ work wq 3", &op), NE_PROTO_OK);
    assert_slice(op.queue, "wq");
    assert_int_equal(op.weight, 3);
    assert_int_equal(parse("LS+ work wq", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("LS- work wq", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_LS_MINUS);
}

static void test_connect_info_err_carry_their_text(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("CONNECT {\"verbose\":false} ", &op), NE_PROTO_OK);
    assert_slice(op.text, "{\"verbose\":false}");
    assert_int_equal(parse("-ERR 'Stale Connection'", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_ERR);
    assert_slice(op.text, "'Stale Connection'");
    assert_int_equal(parse("+OK", &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_OK);
}

/* Found by fuzz_proto: more arguments than the parser keeps. */
static void test_lmsg_with_too_many_arguments_is_bad_args(void **state)
{
    (void)state;
    ne_op op;
    assert_int_equal(parse("LMSG a b c d e f g h i j 5", &op), NE_PROTO_BAD_ARGS);
    assert_int_equal(parse("LMSG a b c d e f g 5", &op), NE_PROTO_OK);
}

static void test_split_args_reports_too_many(void **state)
{
    (void)state;
    ne_slice args[2];
    assert_int_equal(ne_proto_split_args("a b", 3, args, 2), 2);
    assert_int_equal(ne_proto_split_args("a b c", 5, args, 2), 3);
    assert_int_equal(ne_proto_split_args("   ", 3, args, 2), 0);
}

/* ---- Writers: each is told its capacity and writes a whole line or nothing. */

static ne_slice text(const char *s)
{
    return (ne_slice){s, (uint32_t)strlen(s)};
}

/* Writes with every capacity from 0 to the line's length + 1: exactly the
 * line's length and more give the line, anything less gives 0 and leaves
 * the bytes after the capacity untouched. */
static void assert_msg_line_at_every_capacity(bool hmsg, const char *subject, const char *sid,
                                              const char *reply, const char *sizes,
                                              const char *want)
{
    size_t len = strlen(want);
    char out[256];
    assert_true(len + 2 <= sizeof(out));
    for (size_t cap = 0; cap <= len + 1; cap++) {
        memset(out, '#', sizeof(out));
        size_t n =
            ne_proto_msg_line(out, cap, hmsg, text(subject), text(sid), text(reply), text(sizes));
        if (cap < len) {
            assert_int_equal(n, 0);
        } else {
            assert_int_equal(n, len);
            assert_memory_equal(out, want, len);
        }
        for (size_t i = cap; i < sizeof(out); i++) {
            assert_int_equal(out[i], '#');
        }
    }
}

static void test_msg_line_writes_whole_lines_or_nothing_CP41_CP42(void **state)
{
    (void)state;
    assert_msg_line_at_every_capacity(false, "foo.bar", "7", "", "5", "MSG foo.bar 7 5\r\n");
    assert_msg_line_at_every_capacity(false, "foo", "sid.1", "inbox.1", "11",
                                      "MSG foo sid.1 inbox.1 11\r\n");
    assert_msg_line_at_every_capacity(true, "a.c", "1", "", "22 27", "HMSG a.c 1 22 27\r\n");
    assert_msg_line_at_every_capacity(true, "r.x", "s", "reply", "16 16",
                                      "HMSG r.x s reply 16 16\r\n");
}

/* The case: a subject near the control-line limit on a 127-byte
 * sid does not fit a buffer of a control line plus 96 bytes, and the writer
 * says so instead of writing past it. */
static void test_msg_line_with_long_subject_and_sid_fails_cleanly(void **state)
{
    (void)state;
    static char subject[4090 + 1], sid[127 + 1], line[4096 + 96 + 1];
    memset(subject, 's', sizeof(subject) - 1);
    memset(sid, 'i', sizeof(sid) - 1);
    line[4096 + 96] = '#';
    size_t n =
        ne_proto_msg_line(line, 4096 + 96, true, text(subject), text(sid), text(""), text("12 14"));
    assert_int_equal(n, 0);
    assert_int_equal(line[4096 + 96], '#');
    /* With room for it: 5 + 4090 + 1 + 127 + 1 + 5 + 2 bytes. */
    static char big[4300];
    n = ne_proto_msg_line(big, sizeof(big), true, text(subject), text(sid), text(""),
                          text("12 14"));
    assert_int_equal(n, 4231);
    assert_memory_equal(big + 4090 + 5, " iii", 4);
    assert_memory_equal(big + n - 8, " 12 14\r\n", 8);
}

static void test_msg_sizes_for_msg_and_hmsg(void **state)
{
    (void)state;
    char out[41];
    size_t n = ne_proto_msg_sizes(out, sizeof(out), false, 22, 27);
    assert_int_equal(n, 1);
    assert_memory_equal(out, "5", 1);
    n = ne_proto_msg_sizes(out, sizeof(out), true, 22, 27);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "22 27", 5);
    /* The largest values fit 41 bytes; one byte less does not. */
    n = ne_proto_msg_sizes(out, sizeof(out), true, UINT64_MAX, UINT64_MAX);
    assert_int_equal(n, 41);
    assert_int_equal(ne_proto_msg_sizes(out, 40, true, UINT64_MAX, UINT64_MAX), 0);
    assert_int_equal(ne_proto_msg_sizes(out, 3, true, 22, 27), 0);
    assert_int_equal(ne_proto_msg_sizes(out, 2, true, 22, 27), 0);
    assert_int_equal(ne_proto_msg_sizes(out, 0, false, 0, 0), 0);
    assert_int_equal(ne_proto_msg_sizes(out, 1, false, 0, 0), 1);
}

/* -ERR lines (CP-50): the text formatted inside the quotes; a text that
 * does not fit is 0, never a line without its closing quote. */
static void test_err_line_is_whole_or_nothing_CP50(void **state)
{
    (void)state;
    char out[64];
    size_t n = ne_proto_err_line(out, sizeof(out), "Permissions Violation for Publish to \"%.*s\"",
                                 3, "foo.bar");
    assert_int_equal(n, strlen("-ERR 'Permissions Violation for Publish to \"foo\"'\r\n"));
    assert_string_equal(out, "-ERR 'Permissions Violation for Publish to \"foo\"'\r\n");
    const char *want = "-ERR 'Invalid Subject'\r\n";
    size_t len = strlen(want);
    for (size_t cap = 0; cap <= len + 1; cap++) {
        n = ne_proto_err_line(out, cap, "Invalid Subject");
        assert_int_equal(n, cap > len ? len : 0); /* the line and its NUL */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pub_with_and_without_reply),
        cmocka_unit_test(test_pub_fast_path_agrees_with_the_full_parser),
        cmocka_unit_test(test_verbs_are_case_insensitive_CP01),
        cmocka_unit_test(test_args_split_on_runs_of_spaces_and_tabs_CP02),
        cmocka_unit_test(test_ping_pong_ignore_trailing_bytes_CP04),
        cmocka_unit_test(test_hpub_sizes_and_header_larger_than_total_CP26),
        cmocka_unit_test(test_sub_with_queue_and_unsub_with_max_CP33_CP39),
        cmocka_unit_test(test_argument_errors_are_bad_args_CP06),
        cmocka_unit_test(test_unknown_verbs_CP05),
        cmocka_unit_test(test_msg_and_hmsg_forms_CP41_CP42),
        cmocka_unit_test(test_leaf_interest_lines_LN10),
        cmocka_unit_test(test_connect_info_err_carry_their_text),
        cmocka_unit_test(test_lmsg_with_too_many_arguments_is_bad_args),
        cmocka_unit_test(test_split_args_reports_too_many),
        cmocka_unit_test(test_unsub_max_that_is_not_a_size_removes_at_once_CP39),
        cmocka_unit_test(test_sizes_of_more_than_nine_digits_are_bad_args_CP06),
        cmocka_unit_test(test_msg_line_writes_whole_lines_or_nothing_CP41_CP42),
        cmocka_unit_test(test_msg_line_with_long_subject_and_sid_fails_cleanly),
        cmocka_unit_test(test_msg_sizes_for_msg_and_hmsg),
        cmocka_unit_test(test_err_line_is_whole_or_nothing_CP50),
    };
    return cmocka_run_group_tests_name("proto", tests, NULL, NULL);
}
