/* End-to-end tests of the server over the simulated network (port/sim):
 * framing, handlers, routing, limits and pool exhaustion, deterministic and
 * in-process. After each test the server is shut down and every pool must be
 * back to idle. IDs refer to shared/reference/nats-inventory.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
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
    port = srv.client_listener.port;
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
    /* Leak check after every test: every pool back to idle. */
    assert_int_equal(srv.conn_pool.in_use, 0);
    assert_int_equal(srv.sub_pool.in_use, 0);
    assert_int_equal(srv.chunks.chunks.in_use, 0);
    assert_int_equal(srv.chunks.refs.in_use, 0);
    assert_int_equal(srv.trie.pool.in_use, 0);
    return 0;
}

static void step(int n)
{
    for (int i = 0; i < n; i++) {
        ne_sim_net_step(&sim, &srv);
    }
}

/* Reads everything the server sent to a client so far (NUL-terminated). */
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

/* Connects, reads the INFO, sends CONNECT with the given JSON. */
static int client(const char *connect_json)
{
    int c = ne_sim_connect(&sim, port);
    assert_true(c >= 0);
    step(2);
    const char *info = take(c);
    assert_true(strncmp(info, "INFO {", 6) == 0);
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

static void test_info_has_the_fields_clients_read_CP10(void **state)
{
    (void)state;
    int c = ne_sim_connect(&sim, port);
    step(2);
    const char *info = take(c);
    const char *fields[] = {"\"server_id\":\"N",
                            "\"server_name\":",
                            "\"version\":\"2.9",
                            "\"proto\":1",
                            "\"go\":",
                            "\"host\":",
                            "\"port\":",
                            "\"headers\":true",
                            "\"max_payload\":",
                            "\"client_id\":1",
                            "\"client_ip\":\"127.0.0.1\""};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strstr(info, fields[i]) == NULL) {
            fail_msg("INFO lacks %s: %s", fields[i], info);
        }
    }
    assert_non_null(strstr(info, "} \r\n"));
}

static void test_connect_defaults_are_verbose_CP16(void **state)
{
    (void)state;
    int c = client(NULL);
    send_text(c, "CONNECT {}\r\nSUB foo 1\r\nPUB foo 2\r\nhi\r\nUNSUB 1\r\n");
    step(2);
    assert_string_equal(take(c), "+OK\r\n+OK\r\n+OK\r\nMSG foo 1 2\r\nhi\r\n+OK\r\n");
}

static void test_pub_sub_without_connect_CP17(void **state)
{
    (void)state;
    int c = client(NULL);
    send_text(c, "SUB foo 1\r\nPUB foo 3\r\nabc\r\n");
    step(2);
    assert_string_equal(take(c), "+OK\r\n+OK\r\nMSG foo 1 3\r\nabc\r\n");
}

static void test_msg_framing_with_reply_CP41(void **state)
{
    (void)state;
    int s = client(QUIET);
    int p = client(QUIET);
    send_text(s, "SUB foo.* 7\r\n");
    step(2);
    send_text(p, "PUB foo.bar inbox.1 5\r\nhello\r\n");
    step(2);
    assert_string_equal(take(s), "MSG foo.bar 7 inbox.1 5\r\nhello\r\n");
}

static void test_input_split_at_every_byte_gives_the_same_output_CP08(void **state)
{
    (void)state;
    const char *script = "SUB a.> 1\r\nSUB a.b q 2\r\nPUB a.b r 5\r\nhello\r\n"
                         "HPUB a.c 22 27\r\nNATS/1.0\r\nK: value\r\n\r\nworld\r\nPING\r\n";
    /* Reference: the whole script at once. */
    int whole = client(QUIET);
    send_text(whole, script);
    step(3);
    static char expected[4096];
    const char *first = take(whole);
    assert_true(strlen(first) < sizeof(expected));
    memcpy(expected, first, strlen(first) + 1);
    assert_non_null(strstr(expected, "HMSG a.c 1 22 27\r\n"));
    ne_sim_client_close(&sim, whole);
    step(2);
    /* The same script one byte per loop turn. */
    int bytes = client(QUIET);
    for (size_t i = 0; script[i] != '\0'; i++) {
        assert_int_equal(ne_sim_client_write(&sim, bytes, script + i, 1), 1);
        step(1);
    }
    step(2);
    assert_string_equal(take(bytes), expected);
}

static void test_wildcards_and_two_copies_for_two_matching_subs_CP44_CP55(void **state)
{
    (void)state;
    int s = client(QUIET);
    send_text(s, "SUB foo.* 1\r\nSUB > 2\r\nSUB foo.> 3\r\n");
    step(2);
    int p = client(QUIET);
    send_text(p, "PUB foo.x 1\r\na\r\nPUB foo 1\r\nb\r\n");
    step(3);
    const char *out = take(s);
    assert_non_null(strstr(out, "MSG foo.x 1 1\r\na\r\n"));
    assert_non_null(strstr(out, "MSG foo.x 2 1\r\na\r\n"));
    assert_non_null(strstr(out, "MSG foo.x 3 1\r\na\r\n"));
    assert_non_null(strstr(out, "MSG foo 2 1\r\nb\r\n"));
    assert_null(strstr(out, "MSG foo 3"));
}

static void test_queue_group_delivers_each_message_to_one_member_CP58(void **state)
{
    (void)state;
    int m[3];
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        m[i] = client(QUIET);
        send_text(m[i], "SUB work workers 1\r\n");
    }
    int p = client(QUIET);
    step(2);
    for (int i = 0; i < 300; i++) {
        send_text(p, "PUB work 1\r\nx\r\n");
        step(1);
        for (int k = 0; k < 3; k++) {
            const char *out = take(m[k]);
            for (const char *q = strstr(out, "MSG work"); q != NULL;
                 q = strstr(q + 1, "MSG work")) {
                counts[k]++;
            }
        }
    }
    assert_int_equal(counts[0] + counts[1] + counts[2], 300);
    for (int k = 0; k < 3; k++) {
        assert_true(counts[k] > 30);
    }
}

static void test_echo_false_suppresses_own_messages_CP44(void **state)
{
    (void)state;
    int c = client("{\"verbose\":false,\"pedantic\":false,\"echo\":false,\"protocol\":1}");
    int other = client(QUIET);
    send_text(c, "SUB foo 1\r\nPUB foo 1\r\na\r\n");
    step(2);
    assert_string_equal(take(c), "");
    send_text(other, "PUB foo 1\r\nb\r\n");
    step(2);
    assert_string_equal(take(c), "MSG foo 1 1\r\nb\r\n");
}

static void test_no_responders_status_to_requester_CP32(void **state)
{
    (void)state;
    int c = client(QUIET);
    send_text(c, "SUB _INBOX.x.* 9\r\nPUB svc _INBOX.x.1 2\r\nhi\r\n");
    step(2);
    assert_string_equal(take(c), "HMSG _INBOX.x.1 9 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
}

static void test_header_message_to_non_header_subscriber_is_stripped_CP43(void **state)
{
    (void)state;
    int s = client("{\"verbose\":false,\"pedantic\":false}");
    int p = client(QUIET);
    send_text(s, "SUB h 1\r\n");
    step(2);
    send_text(p, "HPUB h 12 15\r\nNATS/1.0\r\n\r\nabc\r\n");
    step(2);
    assert_string_equal(take(s), "MSG h 1 3\r\nabc\r\n");
}

static void test_unsub_with_max_delivers_exactly_max_CP39(void **state)
{
    (void)state;
    int c = client(QUIET);
    send_text(c, "SUB foo 1\r\nUNSUB 1 2\r\n");
    for (int i = 0; i < 5; i++) {
        send_text(c, "PUB foo 1\r\nx\r\n");
    }
    step(3);
    assert_string_equal(take(c), "MSG foo 1 1\r\nx\r\nMSG foo 1 1\r\nx\r\n");
    assert_int_equal(srv.sub_pool.in_use, 0);
}

static void test_max_payload_violation_closes_CP28(void **state)
{
    (void)state;
    int c = client(QUIET);
    char line[64];
    snprintf(line, sizeof(line), "PUB foo %u\r\n", srv.opts.max_payload + 1);
    send_text(c, line);
    step(2);
    assert_string_equal(take(c), "-ERR 'Maximum Payload Violation'\r\n");
    assert_true(ne_sim_server_closed(&sim, c));
}

static void test_payload_at_max_payload_is_delivered_intact(void **state)
{
    (void)state;
    int s = client(QUIET);
    int s2 = client(QUIET);
    int p = client(QUIET);
    send_text(s, "SUB big 1\r\n");
    send_text(s2, "SUB big 2\r\n");
    step(2);
    static char payload[NE_MAX_PAYLOAD_BYTES];
    for (size_t i = 0; i < sizeof(payload); i++) {
        payload[i] = (char)('a' + i % 26);
    }
    char line[64];
    int n = snprintf(line, sizeof(line), "PUB big %u\r\n", (unsigned)sizeof(payload));
    /* Written in pieces smaller than the simulated buffer, one turn each. */
    assert_int_equal(ne_sim_client_write(&sim, p, line, (size_t)n), (size_t)n);
    size_t sent = 0;
    static char got[2][NE_MAX_PAYLOAD_BYTES + 64];
    size_t got_len[2] = {0, 0};
    int subs[2] = {s, s2};
    size_t want =
        (size_t)snprintf(line, sizeof(line), "MSG big 1 %u\r\n", (unsigned)sizeof(payload)) +
        sizeof(payload) + 2;
    for (int turn = 0; turn < 10000 && (got_len[0] < want || got_len[1] < want); turn++) {
        if (sent < sizeof(payload)) {
            sent += ne_sim_client_write(&sim, p, payload + sent,
                                        NE_MIN(sizeof(payload) - sent, (size_t)65536));
            if (sent == sizeof(payload)) {
                send_text(p, "\r\n");
            }
        }
        step(1);
        for (int k = 0; k < 2; k++) {
            got_len[k] +=
                ne_sim_client_read(&sim, subs[k], got[k] + got_len[k], sizeof(got[k]) - got_len[k]);
        }
    }
    for (int k = 0; k < 2; k++) {
        char *body = strstr(got[k], "\r\n");
        assert_non_null(body);
        body += 2;
        assert_int_equal(got_len[k] - (size_t)(body - got[k]), sizeof(payload) + 2);
        assert_memory_equal(body, payload, sizeof(payload));
    }
}

static void test_control_line_too_long_closes_CP07(void **state)
{
    (void)state;
    int c = client(QUIET);
    static char line[NE_MAX_CONTROL_LINE_BYTES + 10];
    memset(line, 'a', sizeof(line) - 1);
    memcpy(line, "SUB ", 4);
    line[sizeof(line) - 1] = '\0';
    send_text(c, line);
    step(2);
    assert_string_equal(take(c), "-ERR 'maximum control line exceeded'\r\n");
    assert_true(ne_sim_server_closed(&sim, c));
}

static void test_unknown_operation_closes_CP05(void **state)
{
    (void)state;
    int c = client(QUIET);
    send_text(c, "FOO bar\r\n");
    step(2);
    assert_string_equal(take(c), "-ERR 'Unknown Protocol Operation'\r\n");
    assert_true(ne_sim_server_closed(&sim, c));
}

static void test_bad_payload_trailer_closes_CP03(void **state)
{
    (void)state;
    int c = client(QUIET);
    send_text(c, "PUB x 1\r\nzz\r\n");
    step(2);
    assert_string_equal(take(c), "-ERR 'Unknown Protocol Operation'\r\n");
    assert_true(ne_sim_server_closed(&sim, c));
}

static void test_argument_error_closes_without_err_CP06(void **state)
{
    (void)state;
    int c = client(QUIET);
    send_text(c, "SUB foo\r\n");
    step(2);
    assert_string_equal(take(c), "");
    assert_true(ne_sim_server_closed(&sim, c));
}

static void test_invalid_subject_keeps_connection_CP34(void **state)
{
    (void)state;
    int c = client(QUIET);
    send_text(c, "SUB foo..bar 1\r\nSUB foo.>.bar 2\r\nPING\r\n");
    step(2);
    assert_string_equal(take(c),
                        "-ERR 'Invalid Subject'\r\n-ERR 'Invalid Subject'\r\nPONG\r\nPING\r\n");
    assert_false(ne_sim_server_closed(&sim, c));
}

static void test_protocol_and_no_responders_checks_CP18_CP19(void **state)
{
    (void)state;
    int a = client(NULL);
    send_text(a, "CONNECT {\"protocol\":2}\r\n");
    step(2);
    assert_string_equal(take(a), "-ERR 'invalid client protocol'\r\n");
    int b = client(NULL);
    send_text(b, "CONNECT {\"no_responders\":true}\r\n");
    step(2);
    assert_string_equal(take(b), "-ERR 'no responders requires headers support'\r\n");
    int c = client(NULL);
    send_text(c, "CONNECT {bad json\r\n");
    step(2);
    assert_string_equal(take(c), "");
    assert_true(ne_sim_server_closed(&sim, c));
}

static void small_limits(ne_server_options *o)
{
    o->max_connections = 3;
    o->max_pending = 64 * 1024;
    o->max_payload = 32 * 1024;
}

static void test_connection_limit_refuses_with_info_and_err_CP69(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(small_limits);
    int c[3];
    for (int i = 0; i < 3; i++) {
        c[i] = client(QUIET);
    }
    int extra = ne_sim_connect(&sim, port);
    step(2);
    const char *out = take(extra);
    assert_true(strncmp(out, "INFO {", 6) == 0);
    assert_non_null(strstr(out, "-ERR 'maximum connections exceeded'\r\n"));
    assert_true(ne_sim_server_closed(&sim, extra));
    assert_int_equal(srv.stats.refused_connections, 1);
    /* The others keep working. */
    send_text(c[0], "SUB x 1\r\n");
    step(1);
    send_text(c[1], "PUB x 2\r\nok\r\n");
    step(2);
    assert_string_equal(take(c[0]), "MSG x 1 2\r\nok\r\n");
}

static void test_slow_consumer_is_closed_others_keep_receiving_CP51(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(small_limits);
    int slow = client(QUIET);
    int healthy = client(QUIET);
    int p = client(QUIET);
    send_text(slow, "SUB data 1\r\n");
    send_text(healthy, "SUB data 1\r\n");
    step(2);
    ne_sim_set_client_window(&sim, slow, 100);
    static char payload[1024 + 32];
    memset(payload, 'z', sizeof(payload));
    int received = 0;
    for (int i = 0; i < 200; i++) {
        send_text(p, "PUB data 1024\r\n");
        ne_sim_client_write(&sim, p, payload, 1024);
        send_text(p, "\r\n");
        step(1);
        const char *out = take(healthy);
        for (const char *q = strstr(out, "MSG data"); q != NULL; q = strstr(q + 1, "MSG data")) {
            received++;
        }
    }
    step(2);
    received += 0;
    assert_int_equal(received, 200);
    assert_true(ne_sim_server_closed(&sim, slow));
    assert_false(ne_sim_server_closed(&sim, p));
    assert_int_equal(srv.stats.slow_consumers, 1);
    assert_int_equal(srv.closed[0].reason, NE_CLOSE_SLOW_CONSUMER_PENDING);
}

static void test_subscription_pool_exhaustion_is_answered_and_others_work(void **state)
{
    (void)state;
    int c = client(QUIET);
    char line[64];
    int refused = 0;
    for (int i = 0; i < NE_MAX_SUBSCRIPTIONS + 3; i++) {
        snprintf(line, sizeof(line), "SUB s.%d %d\r\n", i, i);
        send_text(c, line);
        if (i % 512 == 0) {
            step(1);
            const char *out = take(c);
            for (const char *q = strstr(out, "maximum subscriptions exceeded"); q != NULL;
                 q = strstr(q + 1, "maximum subscriptions exceeded")) {
                refused++;
            }
        }
    }
    step(2);
    const char *out = take(c);
    for (const char *q = strstr(out, "maximum subscriptions exceeded"); q != NULL;
         q = strstr(q + 1, "maximum subscriptions exceeded")) {
        refused++;
    }
    assert_true(refused >= 3);
    assert_true(srv.stats.subs_refused >= 3);
    assert_false(ne_sim_server_closed(&sim, c));
    int other = client(QUIET);
    send_text(other, "PUB s.5 1\r\nq\r\n");
    step(2);
    assert_string_equal(take(c), "MSG s.5 5 1\r\nq\r\n");
}

static void test_fanout_shares_one_copy_of_a_large_payload(void **state)
{
    (void)state;
    int subs[4];
    for (int i = 0; i < 4; i++) {
        subs[i] = client(QUIET);
        send_text(subs[i], "SUB big 1\r\n");
        ne_sim_set_client_window(&sim, subs[i], 0); /* nothing drains: queues hold the data */
    }
    int p = client(QUIET);
    step(2);
    uint32_t before = srv.chunks.chunks.in_use;
    /* At least NE_SHARE_PAYLOAD_MIN_BYTES (shared), within one chunk. */
    static char payload[5000];
    _Static_assert(sizeof(payload) >= NE_SHARE_PAYLOAD_MIN_BYTES &&
                       sizeof(payload) + 2 <= NE_CHUNK_BYTES,
                   "the payload must be shared and fit one chunk");
    memset(payload, 'p', sizeof(payload));
    send_text(p, "PUB big 5000\r\n");
    ne_sim_client_write(&sim, p, payload, sizeof(payload));
    send_text(p, "\r\n");
    step(1);
    /* One chunk holds the payload for all four; each queue adds a chunk for
     * its MSG line. Copies would need at least one payload chunk each. */
    assert_int_equal(srv.chunks.chunks.in_use - before, 1 + 4);
    for (int i = 0; i < 4; i++) {
        ne_sim_set_client_window(&sim, subs[i], NE_SIM_BUFFER_BYTES);
    }
    step(2);
    for (int i = 0; i < 4; i++) {
        const char *out = take(subs[i]);
        assert_true(strncmp(out, "MSG big 1 5000\r\npppp", 20) == 0);
    }
}

static void big_pending(ne_server_options *o)
{
    o->max_pending = NE_MAX_PENDING_BYTES;
}

static void test_chunk_pool_exhaustion_closes_the_slowest_consumer(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(big_pending);
    /* Three stalled subscribers together can hold more than the chunk pool. */
    int stalled[3];
    for (int i = 0; i < 3; i++) {
        stalled[i] = client(QUIET);
        send_text(stalled[i], "SUB data 1\r\n");
        ne_sim_set_client_window(&sim, stalled[i], 0);
    }
    int healthy = client(QUIET);
    send_text(healthy, "SUB data 1\r\n");
    int p = client(QUIET);
    step(2);
    static char payload[512];
    memset(payload, 'd', sizeof(payload));
    char line[32];
    int n = snprintf(line, sizeof(line), "PUB data %u\r\n", (unsigned)sizeof(payload));
    int received = 0;
    int sent = 0;
    for (int i = 0; i < 20000 && srv.stats.chunk_reclaims == 0; i++) {
        ne_sim_client_write(&sim, p, line, (size_t)n);
        ne_sim_client_write(&sim, p, payload, sizeof(payload));
        ne_sim_client_write(&sim, p, "\r\n", 2);
        sent++;
        step(1);
        const char *out = take(healthy);
        for (const char *q = strstr(out, "MSG data"); q != NULL; q = strstr(q + 1, "MSG data")) {
            received++;
        }
    }
    assert_true(srv.stats.chunk_reclaims >= 1);
    step(2);
    const char *out = take(healthy);
    for (const char *q = strstr(out, "MSG data"); q != NULL; q = strstr(q + 1, "MSG data")) {
        received++;
    }
    /* The healthy subscriber got every message; the publisher is still up. */
    assert_int_equal(received, sent);
    assert_false(ne_sim_server_closed(&sim, p));
    assert_false(ne_sim_server_closed(&sim, healthy));
    int closed = 0;
    for (int i = 0; i < 3; i++) {
        closed += ne_sim_server_closed(&sim, stalled[i]) ? 1 : 0;
    }
    assert_true(closed >= 1);
    assert_true(srv.stats.slow_consumers >= 1);
}

/* A publisher whose reads pause (no chunks for a large payload) with more
 * unparsed input than its own buffer holds keeps that input in the shared
 * read buffer; others read through their own buffers meanwhile, and when
 * chunks are back the input goes on from where it stopped, byte for byte. */
static void test_paused_reader_keeps_its_input_in_the_shared_buffer(void **state)
{
    (void)state;
#if NE_SHARED_READ_BUFFER_BYTES == 0
    skip();
#else
    enum { BIG = 200000, FIRST = 150000 };
    static uint8_t payload[BIG];
    for (size_t i = 0; i < sizeof(payload); i++) {
        payload[i] = (uint8_t)('a' + i % 23);
    }
    int s = client(QUIET);
    send_text(s, "SUB big 1\r\nSUB after 2\r\n");
    int p = client(QUIET);
    int q = client(QUIET);
    step(2);
    /* Hold all but a few chunks: the payload's chain cannot start. */
    static ne_chunk *held[NE_CHUNK_COUNT];
    uint32_t nheld = 0;
    while (ne_pool_available(&srv.chunks.chunks) > 4) {
        held[nheld++] = ne_chunk_alloc(&srv.chunks);
    }
    char line[64];
    snprintf(line, sizeof(line), "PUB big %u\r\n", (unsigned)BIG);
    send_text(p, line);
    assert_int_equal(ne_sim_client_write(&sim, p, payload, FIRST), FIRST);
    step(2);
    assert_non_null(srv.rshared_owner);
    assert_true(srv.rshared_owner->read_paused);
    assert_true(srv.rshared_len - srv.rshared_pos > NE_CONN_READ_BUFFER_BYTES);
    /* Another publisher is not held up. */
    send_text(q, "PUB after 2\r\nhi\r\n");
    step(2);
    assert_string_equal(take(s), "MSG after 2 2\r\nhi\r\n");
    assert_int_equal(ne_sim_client_write(&sim, p, payload + FIRST, BIG - FIRST), BIG - FIRST);
    send_text(p, "\r\nPUB after 3\r\nbye\r\n");
    step(2);
    assert_non_null(srv.rshared_owner);
    for (uint32_t i = 0; i < nheld; i++) {
        ne_chunk_release(&srv.chunks, held[i]);
    }
    step(4);
    assert_null(srv.rshared_owner);
    size_t n = ne_sim_client_read(&sim, s, rx, sizeof(rx) - 1);
    const char *head = "MSG big 1 200000\r\n";
    const char *tail = "\r\nMSG after 2 3\r\nbye\r\n";
    assert_int_equal(n, strlen(head) + BIG + strlen(tail));
    assert_memory_equal(rx, head, strlen(head));
    assert_memory_equal(rx + strlen(head), payload, BIG);
    assert_memory_equal(rx + strlen(head) + BIG, tail, strlen(tail));
    assert_false(ne_sim_server_closed(&sim, p));
#endif
}

static void with_user(ne_server_options *o)
{
    strcpy(o->auth_user, "derek");
    strcpy(o->auth_pass, "s3cr3t");
    o->auth_timeout_ms = 30;
}

static void test_auth_accepts_right_credentials_and_refuses_wrong_ones_CP71(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(with_user);
    int c = ne_sim_connect(&sim, port);
    step(2);
    assert_non_null(strstr(take(c), "\"auth_required\":true"));
    send_text(c, "CONNECT {\"verbose\":true,\"user\":\"derek\",\"pass\":\"s3cr3t\"}\r\nPING\r\n");
    step(2);
    assert_string_equal(take(c), "+OK\r\nPONG\r\n");
    int bad = ne_sim_connect(&sim, port);
    step(2);
    take(bad);
    send_text(bad, "CONNECT {\"user\":\"derek\",\"pass\":\"nope\"}\r\n");
    step(2);
    assert_string_equal(take(bad), "-ERR 'Authorization Violation'\r\n");
    assert_true(ne_sim_server_closed(&sim, bad));
    /* Any first operation other than CONNECT is a violation (CP-09). */
    int early = ne_sim_connect(&sim, port);
    step(2);
    take(early);
    send_text(early, "SUB foo 1\r\n");
    step(2);
    assert_string_equal(take(early), "-ERR 'Authorization Violation'\r\n");
    assert_true(ne_sim_server_closed(&sim, early));
}

static void test_auth_timeout_closes_silent_client_CP23(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(with_user);
    int c = ne_sim_connect(&sim, port);
    step(2);
    take(c);
    /* Simulated time: nothing before the 30 ms deadline, the -ERR and the
     * close at the first timer tick after it (ticks are 100 ms apart). */
    ne_sim_clock_advance(20);
    step(1);
    assert_string_equal(take(c), "");
    assert_false(ne_sim_server_closed(&sim, c));
    ne_sim_clock_advance(100);
    step(1);
    assert_string_equal(take(c), "-ERR 'Authentication Timeout'\r\n");
    step(1);
    assert_true(ne_sim_server_closed(&sim, c));
    assert_int_equal(srv.closed[0].reason, NE_CLOSE_AUTH_TIMEOUT);
}

static void with_http(ne_server_options *o)
{
    o->http_enabled = true;
    o->http_port = 0;
    strcpy(o->http_host, "127.0.0.1");
}

/* Sends one HTTP request to the monitor and returns the whole response. */
static const char *http(const char *request)
{
    int h = ne_sim_connect(&sim, srv.http_listener.port);
    assert_true(h >= 0);
    ne_sim_client_write(&sim, h, request, strlen(request));
    static char resp[NE_SIM_BUFFER_BYTES + 1];
    size_t n = 0;
    for (int i = 0; i < 20 && !ne_sim_server_closed(&sim, h); i++) {
        step(1);
        n += ne_sim_client_read(&sim, h, resp + n, sizeof(resp) - 1 - n);
    }
    n += ne_sim_client_read(&sim, h, resp + n, sizeof(resp) - 1 - n);
    resp[n] = '\0';
    assert_true(ne_sim_server_closed(&sim, h));
    ne_sim_client_close(&sim, h);
    ne_sim_release(&sim, h);
    return resp;
}

static void test_monitoring_endpoints_answer_with_nats_server_fields_MON01(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(with_http);
    int c = client("{\"verbose\":false,\"name\":\"probe\",\"lang\":\"c\",\"version\":\"1\"}");
    send_text(c, "SUB a 1\r\nSUB b q 2\r\nPUB a 2\r\nhi\r\n");
    step(2);
    const char *varz = http("GET /varz HTTP/1.1\r\nHost: x\r\n\r\n");
    if (strncmp(varz, "HTTP/1.1 200 OK\r\nContent-Type: application/json", 47) != 0) {
        fail_msg("varz: [%s]", varz);
    }
    const char *keys[] = {"\"server_id\"",
                          "\"max_payload\"",
                          "\"connections\":1",
                          "\"in_msgs\":1",
                          "\"subscriptions\":2",
                          "\"uptime\"",
                          "\"http_req_stats\":{\"/varz\":1}"};
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
        if (strstr(varz, keys[k]) == NULL) {
            fail_msg("varz lacks %s: %s", keys[k], varz);
        }
    }
    const char *connz = http("GET /connz?subs=1&sort=subs HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(connz, "\"num_connections\":1"));
    assert_non_null(strstr(connz, "\"name\":\"probe\""));
    assert_non_null(strstr(connz, "\"subscriptions_list\":["));
    assert_non_null(strstr(http("GET /subsz HTTP/1.0\r\n\r\n"), "\"num_subscriptions\":2"));
    assert_non_null(strstr(http("GET /healthz HTTP/1.1\r\n\r\n"), "{\"status\":\"ok\"}"));
    assert_non_null(
        strstr(http("GET /accountz HTTP/1.1\r\n\r\n"), "\"accounts\":[\"$G\",\"$SYS\"]"));
    ne_sim_client_close(&sim, c);
    step(2);
    const char *closed = http("GET /connz?state=closed HTTP/1.1\r\n\r\n");
    assert_non_null(strstr(closed, "\"reason\":\"Client Closed\""));
}

static void test_monitoring_refuses_bad_requests(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(with_http);
    assert_true(strncmp(http("GET /nope HTTP/1.1\r\n\r\n"), "HTTP/1.1 404", 12) == 0);
    assert_true(strncmp(http("POST /varz HTTP/1.1\r\n\r\n"), "HTTP/1.1 405", 12) == 0);
    assert_true(strncmp(http("garbage\r\n\r\n"), "HTTP/1.1 400", 12) == 0);
    assert_true(strncmp(http("GET /connz?sort=bogus HTTP/1.1\r\n\r\n"), "HTTP/1.1 400", 12) == 0);
    static char big[NE_HTTP_REQUEST_BYTES + 64];
    memset(big, 'a', sizeof(big) - 1);
    memcpy(big, "GET /", 5);
    big[sizeof(big) - 1] = '\0';
    assert_true(strncmp(http(big), "HTTP/1.1 431", 12) == 0);
    /* The broker still serves clients. */
    int c = client(QUIET);
    send_text(c, "PING\r\n");
    step(2);
    assert_string_equal(take(c), "PONG\r\nPING\r\n");
}

static void fast_pings(ne_server_options *o)
{
    o->ping_interval_ms = 20;
    o->ping_max = 2;
}

static void test_ping_interval_closes_stale_connection_CP48(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(fast_pings);
    int c = client(QUIET);
    /* Simulated time in 100 ms steps (the timer tick), the client silent:
     * the first PING at the first tick, the second one interval later,
     * then with ping_max 2 outstanding the -ERR and the close (CP-48). */
    char seen[256] = "";
    for (int i = 0; i < 10 && !ne_sim_server_closed(&sim, c); i++) {
        ne_sim_clock_advance(100);
        step(1);
        strncat(seen, take(c), sizeof(seen) - strlen(seen) - 1);
    }
    assert_string_equal(seen, "PING\r\nPING\r\n-ERR 'Stale Connection'\r\n");
    step(1);
    assert_true(ne_sim_server_closed(&sim, c));
    assert_int_equal(srv.closed[0].reason, NE_CLOSE_STALE);
}

static void short_write_deadline(ne_server_options *o)
{
    with_http(o);
    o->write_deadline_ms = 1000;
}

/* A subscriber whose socket takes nothing more, with its pending bytes far
 * below max_pending: closed as a slow consumer once no byte could be
 * written for write_deadline (CP-67), the publisher untouched. Simulated
 * time, on the 100 ms timer ticks. */
static void test_write_deadline_closes_a_subscriber_that_takes_nothing_CP67(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(short_write_deadline);
    int sub = client(QUIET);
    int pub = client(QUIET);
    send_text(sub, "SUB wd 1\r\n");
    step(2);
    ne_sim_set_client_window(&sim, sub, 1024);
    char payload[8192 + 64];
    int n = snprintf(payload, sizeof(payload), "PUB wd 8192\r\n");
    memset(payload + n, 'w', 8192);
    memcpy(payload + n + 8192, "\r\n", 2);
    assert_int_equal(ne_sim_client_write(&sim, pub, payload, (size_t)n + 8194), (size_t)n + 8194);
    step(2);
    ne_conn *c = srv.active;
    while (c != NULL && c->cid != 1) {
        c = c->next;
    }
    assert_non_null(c);
    assert_true(c->out.bytes > 0);
    assert_true(c->out.bytes < srv.opts.max_pending);
    for (int i = 0; i < 9; i++) {
        ne_sim_clock_advance(100);
        step(1);
        assert_false(ne_sim_server_closed(&sim, sub));
    }
    ne_sim_clock_advance(200);
    step(2);
    assert_true(ne_sim_server_closed(&sim, sub));
    assert_int_equal(srv.closed[0].reason, NE_CLOSE_SLOW_CONSUMER_DEADLINE);
    assert_int_equal(srv.stats.slow_consumers, 1);
    send_text(pub, "PING\r\n");
    step(2);
    assert_non_null(strstr(take(pub), "PONG\r\n")); /* (after the server's own first PING) */
    assert_false(ne_sim_server_closed(&sim, pub));
}

/* A monitoring connection that sends no complete request is dropped after
 * write_deadline without a reply (differences.md: Monitoring). */
static void test_idle_http_connection_is_dropped_after_write_deadline(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(short_write_deadline);
    int idle = ne_sim_connect(&sim, srv.http_listener.port);
    int half = ne_sim_connect(&sim, srv.http_listener.port);
    send_text(half, "GET /varz HTTP/1.1\r\nHost: x\r\n");
    step(2);
    for (int i = 0; i < 9; i++) {
        ne_sim_clock_advance(100);
        step(1);
        assert_false(ne_sim_server_closed(&sim, idle));
        assert_false(ne_sim_server_closed(&sim, half));
    }
    ne_sim_clock_advance(200);
    step(2);
    assert_true(ne_sim_server_closed(&sim, idle));
    assert_true(ne_sim_server_closed(&sim, half));
    assert_string_equal(take(idle), "");
    assert_string_equal(take(half), "");
    ne_sim_client_close(&sim, idle);
    ne_sim_client_close(&sim, half);
    /* The monitor still answers. */
    assert_non_null(strstr(http("GET /healthz HTTP/1.1\r\n\r\n"), "200 OK"));
}

/* A message matching more than NE_MAX_FANOUT subscriptions reaches the
 * first NE_MAX_FANOUT and the overflow is counted (differences.md: Static
 * limits); one fewer and every one gets it. */
static void test_fanout_overflow_delivers_to_the_first_max_fanout(void **state)
{
    (void)state;
    int c = client(QUIET);
    char line[48];
    for (uint32_t i = 1; i <= NE_MAX_FANOUT + 1; i++) {
        snprintf(line, sizeof(line), "SUB fan %u\r\n", (unsigned)i);
        send_text(c, line);
        if (i % 256 == 0) {
            step(1);
        }
    }
    step(2);
    assert_string_equal(take(c), "");
    send_text(c, "PUB fan 1\r\nz\r\n");
    step(2);
    uint32_t got = 0;
    for (const char *p = strstr(take(c), "MSG fan "); p != NULL; p = strstr(p + 1, "MSG fan ")) {
        got++;
    }
    assert_int_equal(got, NE_MAX_FANOUT);
    assert_int_equal(srv.stats.fanout_overflows, 1);
    send_text(c, "UNSUB 1\r\nPUB fan 1\r\ny\r\n");
    step(2);
    got = 0;
    for (const char *p = strstr(take(c), "MSG fan "); p != NULL; p = strstr(p + 1, "MSG fan ")) {
        got++;
    }
    assert_int_equal(got, NE_MAX_FANOUT);
    assert_int_equal(srv.stats.fanout_overflows, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info_has_the_fields_clients_read_CP10, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connect_defaults_are_verbose_CP16, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pub_sub_without_connect_CP17, setup, teardown),
        cmocka_unit_test_setup_teardown(test_msg_framing_with_reply_CP41, setup, teardown),
        cmocka_unit_test_setup_teardown(test_input_split_at_every_byte_gives_the_same_output_CP08,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_wildcards_and_two_copies_for_two_matching_subs_CP44_CP55, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queue_group_delivers_each_message_to_one_member_CP58,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_false_suppresses_own_messages_CP44, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_responders_status_to_requester_CP32, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_header_message_to_non_header_subscriber_is_stripped_CP43, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unsub_with_max_delivers_exactly_max_CP39, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_max_payload_violation_closes_CP28, setup, teardown),
        cmocka_unit_test_setup_teardown(test_payload_at_max_payload_is_delivered_intact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_control_line_too_long_closes_CP07, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_operation_closes_CP05, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_payload_trailer_closes_CP03, setup, teardown),
        cmocka_unit_test_setup_teardown(test_argument_error_closes_without_err_CP06, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_invalid_subject_keeps_connection_CP34, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_protocol_and_no_responders_checks_CP18_CP19, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_connection_limit_refuses_with_info_and_err_CP69, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_slow_consumer_is_closed_others_keep_receiving_CP51,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_subscription_pool_exhaustion_is_answered_and_others_work, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ping_interval_closes_stale_connection_CP48, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fanout_shares_one_copy_of_a_large_payload, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_monitoring_endpoints_answer_with_nats_server_fields_MON01, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitoring_refuses_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_auth_accepts_right_credentials_and_refuses_wrong_ones_CP71, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_timeout_closes_silent_client_CP23, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_write_deadline_closes_a_subscriber_that_takes_nothing_CP67, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_http_connection_is_dropped_after_write_deadline,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_fanout_overflow_delivers_to_the_first_max_fanout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_pool_exhaustion_closes_the_slowest_consumer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_paused_reader_keeps_its_input_in_the_shared_buffer,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
