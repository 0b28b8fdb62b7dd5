/* The client protocol's writers under hostile input, end to end over the
 * simulated network (port/sim): delivery and no-responders lines longer
 * than the stack buffers they overflowed are written whole, as nats-server
 * writes them; an INFO that does not fit its buffer is not sent at all;
 * numbers in CONNECT never overflow. Issue 13 items 1, 2 and 9. After each
 * test every pool must be back to idle. IDs refer to
 * shared/reference/nats-inventory.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "server/ne_server.h"
#include "sim/ne_sim_net.h"

static ne_server srv;
static ne_sim_net sim;
static uint16_t port;
static char rx[NE_SIM_BUFFER_BYTES + 1];

static void start(void (*tweak)(ne_server_options *))
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    if (tweak != NULL) {
        tweak(&opts);
    }
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    port = ne_server_client_port(&srv);
}

static int setup(void **state)
{
    (void)state;
    start(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    const char *busy = NULL;
    if (ne_server_pools_in_use(&srv, &busy) != 0) {
        fail_msg("pool \"%s\" not back to idle", busy);
    }
    return 0;
}

static void step(int n)
{
    ne_loop loop;
    ne_server_loop(&srv, &loop);
    for (int i = 0; i < n; i++) {
        ne_sim_net_step(&sim, &loop);
    }
}

static const char *take(int client)
{
    size_t n = ne_sim_client_read(&sim, client, rx, sizeof(rx) - 1);
    rx[n] = '\0';
    return rx;
}

static void send_text(int client, const char *text)
{
    assert_int_equal(ne_sim_client_write(&sim, client, text, strlen(text)), strlen(text));
}

static int client(const char *connect_json)
{
    int c = ne_sim_connect(&sim, port);
    assert_true(c >= 0);
    step(2);
    assert_true(strncmp(take(c), "INFO {", 6) == 0);
    if (connect_json != NULL) {
        char line[256];
        snprintf(line, sizeof(line), "CONNECT %s\r\n", connect_json);
        send_text(c, line);
        step(2);
        take(c);
    }
    return c;
}

#define QUIET                                                                                      \
    "{\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true,\"no_responders\":"     \
    "true}"

/* n copies of c, NUL-terminated, in a buffer of the caller's. */
static char *fill(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
    return buf;
}

/* Issue 13 item 1: a subscriber to ">" with a 127-byte sid, and an HPUB
 * whose control line is 4094 bytes. The line for that subscriber is longer
 * than a control line plus 96 bytes (the stack buffer msg_line wrote past);
 * nats-server delivers it, and so does natsedge, byte for byte (CP-42). */
static void test_hpub_long_subject_to_127_byte_sid_is_delivered_whole_CP42(void **state)
{
    (void)state;
    static char sid[128], subject[4100], line[8192], want[8192];
    fill(sid, 'i', 127);
    int s = client(QUIET);
    int other = client(QUIET);
    int p = client(QUIET);
    snprintf(line, sizeof(line), "SUB > %s\r\n", sid);
    send_text(s, line);
    send_text(other, "SUB > 1\r\n");
    step(2);
    /* "HPUB " + subject + " 12 14" = 4094 bytes with the verb. */
    fill(subject, 's', 4094 - 5 - 6);
    snprintf(line, sizeof(line), "HPUB %s 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", subject);
    send_text(p, line);
    step(3);
    snprintf(want, sizeof(want), "HMSG %s %s 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", subject, sid);
    assert_string_equal(take(s), want);
    snprintf(want, sizeof(want), "HMSG %s 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n", subject);
    assert_string_equal(take(other), want);
    assert_int_equal(srv.router.stats.lines_too_long, 0);
}

/* The same subject with a reply of its own and a message without headers,
 * which takes the prepared (fast) path of delivery. */
static void test_pub_long_subject_and_reply_to_127_byte_sid_is_delivered_CP41(void **state)
{
    (void)state;
    static char sid[128], subject[4100], reply[4100], line[16384], want[16384];
    fill(sid, 'i', 127);
    int s = client(QUIET);
    int p = client(QUIET);
    snprintf(line, sizeof(line), "SUB > %s\r\n", sid);
    send_text(s, line);
    step(2);
    /* "PUB " + subject + " " + reply + " 2": 4096 bytes of arguments. */
    fill(subject, 's', 2000);
    fill(reply, 'r', 4096 - 2000 - 1 - 2);
    snprintf(line, sizeof(line), "PUB %s %s 2\r\nhi\r\n", subject, reply);
    send_text(p, line);
    step(3);
    snprintf(want, sizeof(want), "MSG %s %s %s 2\r\nhi\r\n", subject, sid, reply);
    assert_string_equal(take(s), want);
}

/* Issue 13 item 2: no_responders with a 125-byte sid on "r.>" and a
 * 4081-byte reply: the status line is written whole (CP-32). */
static void test_no_responders_with_long_reply_and_sid_is_whole_CP32(void **state)
{
    (void)state;
    static char sid[128], reply[4100], line[8192], want[8192];
    fill(sid, 'i', 125);
    int c = client(QUIET);
    snprintf(line, sizeof(line), "SUB r.> %s\r\n", sid);
    send_text(c, line);
    step(2);
    memcpy(reply, "r.", 2);
    fill(reply + 2, 'x', 4081 - 2);
    snprintf(line, sizeof(line), "PUB nobody %s 0\r\n\r\n", reply);
    send_text(c, line);
    step(3);
    snprintf(want, sizeof(want), "HMSG %s %s 16 16\r\nNATS/1.0 503\r\n\r\n\r\n", reply, sid);
    assert_string_equal(take(c), want);
}

/* Issue 13 item 9: "protocol" beyond int64 was accumulated in an int64
 * (UBSan: signed integer overflow) and then refused as an invalid
 * protocol. nats-server's decoder refuses the number: the CONNECT fails as
 * malformed JSON does, closed without -ERR (CP-22). At the range's end the
 * number is an int: "invalid client protocol" (CP-18). */
static void test_connect_numbers_beyond_int64_close_without_err_CP18_CP22(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "{\"protocol\":9999999999999999999}",
        "{\"protocol\":-9223372036854775809}",
        "{\"protocol\":18446744073709551617}",
        "{\"protocol\":1.0}",
        "{\"protocol\":\"1\"}",
        "{\"verbose\":\"true\"}",
        "{\"name\":5}",
        "{\"protocol\":01}",
        "{\"foo\":tru}",
    };
    char line[128];
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int c = client(NULL);
        snprintf(line, sizeof(line), "CONNECT %s\r\nPING\r\n", refused[i]);
        send_text(c, line);
        step(2);
        if (strcmp(take(c), "") != 0 || !ne_sim_server_closed(&sim, c)) {
            fail_msg("CONNECT %s: got \"%s\", closed %d", refused[i], rx,
                     ne_sim_server_closed(&sim, c));
        }
    }
    int c = client(NULL);
    send_text(c, "CONNECT {\"protocol\":9223372036854775807}\r\n");
    step(2);
    assert_string_equal(take(c), "-ERR 'invalid client protocol'\r\n");
    int d = client(NULL);
    send_text(d,
              "CONNECT {\"protocol\":-0,\"name\":null,\"foo\":99999999999999999999}\r\nPING\r\n");
    step(2);
    assert_string_equal(take(d), "+OK\r\nPONG\r\n");
}

/* The client state of the connection most recently accepted. */
static const ne_nats_client *newest(void)
{
    return srv.conns.active->state;
}

/* CONNECT's name, lang and version in their fixed fields: unescaped, cut
 * after a whole character. They were copied as raw JSON text when too
 * long: escapes shown as typed, a UTF-8 character cut in two (then written
 * into /connz and the system events). */
static void test_connect_name_too_long_is_cut_after_a_whole_character_CP15(void **state)
{
    (void)state;
    static char name[128], line[256];
    memset(name, 'a', 62);
    strcpy(name + 62, "\xc3\xa9"
                      "bcd"); /* 62 + 2 bytes: the cut falls inside the 2 */
    snprintf(line, sizeof(line), "{\"verbose\":false,\"name\":\"%s\",\"lang\":\"c\\nc\"}", name);
    int c = client(line);
    (void)c;
    const ne_nats_client *conn = newest();
    assert_int_equal(strlen(conn->name), 62);
    assert_memory_equal(conn->name, name, 62);
    assert_string_equal(conn->lang, "c\nc");
}

static void unprintable_server_name(ne_server_options *o)
{
    /* 63 control bytes: 378 bytes once escaped as \u00XX, twice over. */
    memset(o->server_name, '\x01', sizeof(o->server_name) - 1);
    o->server_name[sizeof(o->server_name) - 1] = '\0';
    memset(o->host, '\x02', 40);
    o->host[40] = '\0';
}

/* An INFO that does not fit its buffer was asserted away; now the client
 * is closed before anything is sent and the server keeps running. */
static void test_info_too_long_closes_the_client_cleanly_CP10(void **state)
{
    (void)state;
    start(unprintable_server_name);
    int c = ne_sim_connect(&sim, port);
    assert_true(c >= 0);
    step(3);
    assert_string_equal(take(c), "");
    assert_true(ne_sim_server_closed(&sim, c));
    assert_int_equal(ne_nats_client_count(&srv.nats), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(
            test_hpub_long_subject_to_127_byte_sid_is_delivered_whole_CP42, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_pub_long_subject_and_reply_to_127_byte_sid_is_delivered_CP41, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_responders_with_long_reply_and_sid_is_whole_CP32,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_connect_numbers_beyond_int64_close_without_err_CP18_CP22, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_connect_name_too_long_is_cut_after_a_whole_character_CP15, setup, teardown),
        cmocka_unit_test_setup_teardown(test_info_too_long_closes_the_client_cleanly_CP10, NULL,
                                        teardown),
    };
    return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
