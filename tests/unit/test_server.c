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
#include <sys/mman.h>
#include <unistd.h>

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
    port = ne_server_client_port(&srv);
}

static int setup(void **state)
{
    (void)state;
    start(NULL);
    return 0;
}

/* Shuts the server down and checks that every pool is back to idle. */
static void shutdown_idle(ne_server *s)
{
    ne_server_shutdown(s);
    const char *busy = NULL;
    if (ne_server_pools_in_use(s, &busy) != 0) {
        fail_msg("pool \"%s\" not back to idle", busy);
    }
}

static int teardown(void **state)
{
    (void)state;
    shutdown_idle(&srv); /* leak check after every test */
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
                            "\"client_id\":",
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
    /* Only the system service's own subscriptions are left. */
    assert_int_equal(srv.router.sub_pool.in_use, srv.sys.client->nsubs);
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
    assert_int_equal(srv.conns.stats.refused_connections, 1);
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
    assert_int_equal(srv.conns.stats.slow_consumers, 1);
    assert_int_equal(srv.conns.closed[0].reason, NE_CLOSE_SLOW_CONSUMER_PENDING);
}

/* Sends count SUBs "<prefix><i>" with sids from first_sid on, a loop turn
 * every 256 of them, and returns how many were refused with -ERR 'maximum
 * subscriptions exceeded'. */
static int subscribe_many(int c, const char *format, int first_sid, int count)
{
    char line[160];
    char subject[128];
    int refused = 0;
    for (int i = 0; i < count; i++) {
        snprintf(subject, sizeof(subject), format, first_sid + i);
        snprintf(line, sizeof(line), "SUB %s %d\r\n", subject, first_sid + i);
        send_text(c, line);
        if (i % 256 == 255 || i == count - 1) {
            step(1);
            const char *out = take(c);
            for (const char *q = strstr(out, "maximum subscriptions exceeded"); q != NULL;
                 q = strstr(q + 1, "maximum subscriptions exceeded")) {
                refused++;
            }
        }
    }
    return refused;
}

/* Two connections that take their whole share of subscriptions exhaust the
 * pool: a third connection's SUB is refused with -ERR 'maximum
 * subscriptions exceeded', counted, and everyone keeps working. */
static void test_subscription_pool_exhaustion_is_answered_and_others_work(void **state)
{
    (void)state;
    _Static_assert(2 * NE_MAX_SUBSCRIPTIONS_PER_CONN >= NE_MAX_SUBSCRIPTIONS,
                   "two shares fill the pool");
    /* The system account's service holds a few subscriptions of its own. */
    int held = (int)srv.router.sub_pool.in_use;
    int a = client(QUIET);
    int b = client(QUIET);
    assert_int_equal(subscribe_many(a, "s.%d", 0, NE_MAX_SUBSCRIPTIONS_PER_CONN), 0);
    int rest = NE_MAX_SUBSCRIPTIONS - NE_MAX_SUBSCRIPTIONS_PER_CONN - held;
    assert_int_equal(subscribe_many(b, "s.%d", NE_MAX_SUBSCRIPTIONS_PER_CONN, rest), 0);
    assert_int_equal(srv.router.sub_pool.in_use, NE_MAX_SUBSCRIPTIONS);
    int c = client(QUIET);
    assert_int_equal(subscribe_many(c, "s.%d", 0, 3), 3);
    assert_int_equal(srv.router.stats.subs_refused, 3);
    assert_false(ne_sim_server_closed(&sim, c));
    send_text(c, "PUB s.5 1\r\nq\r\n");
    step(2);
    assert_string_equal(take(a), "MSG s.5 5 1\r\nq\r\n");
}

/* Issue 13, the subscription pool: one connection subscribing without end
 * gets its share (NE_MAX_SUBSCRIPTIONS_PER_CONN), then -ERR 'maximum
 * subscriptions exceeded' (CP-36) and stays; another connection still
 * subscribes and both receive. Before the share, the first took the whole
 * pool and the second was refused. */
static void test_one_connection_cannot_take_every_subscription_CP36(void **state)
{
    (void)state;
    int hog = client(QUIET);
    int refused = subscribe_many(hog, "s.%d", 0, NE_MAX_SUBSCRIPTIONS);
    assert_int_equal(refused, NE_MAX_SUBSCRIPTIONS - NE_MAX_SUBSCRIPTIONS_PER_CONN);
    assert_false(ne_sim_server_closed(&sim, hog));
    int other = client(QUIET);
    assert_int_equal(subscribe_many(other, "o.%d", 0, 10), 0);
    int p = client(QUIET);
    send_text(p, "PUB o.3 1\r\nx\r\nPUB s.7 1\r\ny\r\n");
    step(2);
    assert_string_equal(take(other), "MSG o.3 3 1\r\nx\r\n");
    assert_string_equal(take(hog), "MSG s.7 7 1\r\ny\r\n");
}

/* Issue 13, the subject trie: long subjects of distinct tokens take a trie
 * node per token. One connection gets at most NE_MAX_TRIE_NODES_PER_CONN
 * nodes, then -ERR 'maximum subscriptions exceeded' and stays; another
 * connection still subscribes to long subjects; nodes an UNSUB frees go back
 * to the connection's share. Before the share, the first took every node. */
static void test_one_connection_cannot_take_every_trie_node(void **state)
{
    (void)state;
    enum { TOKENS = 8 };
    const char *deep = "t%d.a.b.c.d.e.f.g"; /* TOKENS tokens, the first one distinct */
    /* The accounts' roots and the system account's service hold a few. */
    uint32_t held = srv.router.trie.pool.in_use;
    int hog = client(QUIET);
    int fits = NE_MAX_TRIE_NODES_PER_CONN / TOKENS;
    int refused = subscribe_many(hog, deep, 0, NE_MAX_TRIE_NODES / TOKENS + 10);
    assert_int_equal(refused, NE_MAX_TRIE_NODES / TOKENS + 10 - fits);
    assert_true(srv.router.trie.pool.in_use <= NE_MAX_TRIE_NODES_PER_CONN + held);
    int other = client(QUIET);
    assert_int_equal(subscribe_many(other, "u%d.a.b.c.d.e.f.g", 0, 100), 0);
    /* An UNSUB gives the hog room for one more. */
    send_text(hog, "UNSUB 0\r\n");
    assert_int_equal(subscribe_many(hog, deep, 100000, 1), 0);
    assert_int_equal(subscribe_many(hog, deep, 100001, 1), 1);
    int p = client(QUIET);
    send_text(p, "PUB u7.a.b.c.d.e.f.g 1\r\nz\r\nPUB t5.a.b.c.d.e.f.g 1\r\nw\r\n");
    step(2);
    assert_string_equal(take(other), "MSG u7.a.b.c.d.e.f.g 7 1\r\nz\r\n");
    assert_string_equal(take(hog), "MSG t5.a.b.c.d.e.f.g 5 1\r\nw\r\n");
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
    uint32_t before = srv.conns.chunks.chunks.in_use;
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
    assert_int_equal(srv.conns.chunks.chunks.in_use - before, 1 + 4);
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
    for (int i = 0; i < 20000 && srv.conns.stats.chunk_reclaims == 0; i++) {
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
    assert_true(srv.conns.stats.chunk_reclaims >= 1);
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
    assert_true(srv.conns.stats.slow_consumers >= 1);
}

/* Checks a subscriber's byte stream frame by frame: every "MSG <subject> <sid>
 * <size>\r\n" is followed by exactly <size> bytes of `fill` and "\r\n".
 * Keeps an incomplete last frame in the buffer for the next call; returns the
 * frames seen, or -1 at the first byte out of place. */
typedef struct msg_stream {
    char buf[2 * NE_SIM_BUFFER_BYTES];
    size_t len;
    int frames;
} msg_stream;

static int stream_check(msg_stream *ms, int client, char fill)
{
    ms->len += ne_sim_client_read(&sim, client, ms->buf + ms->len, sizeof(ms->buf) - ms->len);
    size_t pos = 0;
    for (;;) {
        char *nl = memchr(ms->buf + pos, '\n', ms->len - pos);
        if (nl == NULL) {
            break;
        }
        unsigned size = 0;
        char subject[64], sid[16];
        if (sscanf(ms->buf + pos, "MSG %63s %15s %u\r", subject, sid, &size) != 3) {
            return -1;
        }
        size_t body = (size_t)(nl - ms->buf) + 1;
        if (ms->len - body < (size_t)size + 2) {
            break;
        }
        for (size_t i = 0; i < size; i++) {
            if (ms->buf[body + i] != fill) {
                return -1;
            }
        }
        if (memcmp(ms->buf + body + size, "\r\n", 2) != 0) {
            return -1;
        }
        pos = body + size + 2;
        ms->frames++;
    }
    memmove(ms->buf, ms->buf + pos, ms->len - pos);
    ms->len -= pos;
    return ms->frames;
}

/* Issue 13 item 5: four subscribers that never read fill the chunk pool;
 * reclaiming chunks (closing the largest of them) in the middle of queueing
 * a message for a healthy subscriber must not leave a prefix of it queued.
 * Every message is queued whole or the subscriber is closed; the healthy one
 * reads a stream of whole frames. */
static void test_message_is_queued_whole_or_not_at_all_after_a_reclaim(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(big_pending);
    /* Each stalled subscriber has a subject of its own, so that each holds
     * its own copies and together they can hold more than the pool. */
    int stalled[4];
    char line[64];
    for (int i = 0; i < 4; i++) {
        stalled[i] = client(QUIET);
        snprintf(line, sizeof(line), "SUB big.%d 1\r\n", i);
        send_text(stalled[i], line);
        ne_sim_set_client_window(&sim, stalled[i], 0);
    }
    int healthy = client(QUIET);
    send_text(healthy, "SUB big.* 1\r\n");
    int p = client(QUIET);
    step(2);
    enum { SIZE = 60000 };
    static char payload[SIZE];
    memset(payload, 'x', sizeof(payload));
    static msg_stream ms;
    memset(&ms, 0, sizeof(ms));
    int sent = 0;
    for (int i = 0; i < 4000 && srv.conns.stats.chunk_reclaims < 4; i++) {
        snprintf(line, sizeof(line), "PUB big.%d 60000\r\n", i % 4);
        send_text(p, line);
        assert_int_equal(ne_sim_client_write(&sim, p, payload, SIZE), SIZE);
        send_text(p, "\r\n");
        sent++;
        step(1);
        if (stream_check(&ms, healthy, 'x') < 0) {
            fail_msg("the healthy subscriber's stream broke after %d whole messages", ms.frames);
        }
    }
    assert_true(srv.conns.stats.chunk_reclaims >= 1);
    step(4);
    assert_int_equal(stream_check(&ms, healthy, 'x'), sent);
    assert_int_equal(ms.len, 0);
    assert_false(ne_sim_server_closed(&sim, healthy));
    assert_false(ne_sim_server_closed(&sim, p));
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
    while (ne_pool_available(&srv.conns.chunks.chunks) > 4) {
        held[nheld++] = ne_chunk_alloc(&srv.conns.chunks);
    }
    char line[64];
    snprintf(line, sizeof(line), "PUB big %u\r\n", (unsigned)BIG);
    send_text(p, line);
    assert_int_equal(ne_sim_client_write(&sim, p, payload, FIRST), FIRST);
    step(2);
    assert_non_null(srv.conns.rshared_owner);
    assert_true(srv.conns.rshared_owner->io->read_paused);
    assert_true(srv.conns.rshared_len - srv.conns.rshared_pos > NE_CONN_READ_BUFFER_BYTES);
    /* Another publisher is not held up. */
    send_text(q, "PUB after 2\r\nhi\r\n");
    step(2);
    assert_string_equal(take(s), "MSG after 2 2\r\nhi\r\n");
    assert_int_equal(ne_sim_client_write(&sim, p, payload + FIRST, BIG - FIRST), BIG - FIRST);
    send_text(p, "\r\nPUB after 3\r\nbye\r\n");
    step(2);
    assert_non_null(srv.conns.rshared_owner);
    for (uint32_t i = 0; i < nheld; i++) {
        ne_chunk_release(&srv.conns.chunks, held[i]);
    }
    step(4);
    assert_null(srv.conns.rshared_owner);
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
    assert_int_equal(srv.conns.closed[0].reason, NE_CLOSE_AUTH_TIMEOUT);
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
    int h = ne_sim_connect(&sim, ne_server_http_port(&srv));
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
    /* The system account's service subscribes too, as nats-server's does. */
    char subs[32];
    snprintf(subs, sizeof(subs), "\"subscriptions\":%u", 2u + srv.sys.client->nsubs);
    const char *keys[] = {"\"server_id\"",
                          "\"max_payload\"",
                          "\"connections\":1",
                          "\"in_msgs\":1",
                          subs,
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
    snprintf(subs, sizeof(subs), "\"num_subscriptions\":%u", 2u + srv.sys.client->nsubs);
    assert_non_null(strstr(http("GET /subsz HTTP/1.0\r\n\r\n"), subs));
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

/* Clients that connect to the monitor and send nothing hold every place:
 * a new request takes the place of the oldest of them and is answered. */
static void test_monitoring_full_pool_makes_room_for_a_new_request(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(with_http);
    int idle[NE_MAX_HTTP_CONNECTIONS];
    for (int i = 0; i < NE_MAX_HTTP_CONNECTIONS; i++) {
        idle[i] = ne_sim_connect(&sim, srv.mon.listener.port);
        assert_true(idle[i] >= 0);
        step(1);
    }
    assert_int_equal(srv.conns.kinds[srv.mon.kind].count, NE_MAX_HTTP_CONNECTIONS);
    const char *varz = http("GET /varz HTTP/1.1\r\n\r\n");
    assert_true(strncmp(varz, "HTTP/1.1 200 OK", 15) == 0);
    step(1);
    assert_true(ne_sim_server_closed(&sim, idle[0]));
    for (int i = 1; i < NE_MAX_HTTP_CONNECTIONS; i++) {
        assert_false(ne_sim_server_closed(&sim, idle[i]));
    }
    assert_int_equal(srv.conns.kinds[srv.mon.kind].count, NE_MAX_HTTP_CONNECTIONS - 1);
    for (int i = 0; i < NE_MAX_HTTP_CONNECTIONS; i++) {
        ne_sim_client_close(&sim, idle[i]);
        ne_sim_release(&sim, idle[i]);
    }
    step(2);
    assert_int_equal(srv.conns.kinds[srv.mon.kind].count, 0);
}

/* Issue 13, chunks and outbound references: one subscriber that never reads,
 * with a thousand subscriptions matching every message, gets a reference
 * per delivery into shared payloads. What it can hold is bounded by
 * max_pending: it is closed as a slow consumer long before the references or
 * chunks run out, and a healthy subscriber gets every message. Its delivery
 * lines share chunks (ne_chunk.h): a chunk per line would have taken a
 * thousand of the 1024 chunks for 4 MiB pending. */
static void test_subscriber_that_never_reads_holds_at_most_its_pending(void **state)
{
    (void)state;
    int stalled = client(QUIET);
    enum { SUBS = 1000 };
    char line[64];
    for (int i = 0; i < SUBS; i++) {
        snprintf(line, sizeof(line), "SUB x %d\r\n", i);
        send_text(stalled, line);
        if (i % 256 == 255) {
            step(1);
        }
    }
    ne_sim_set_client_window(&sim, stalled, 0);
    int healthy = client(QUIET);
    send_text(healthy, "SUB x 1\r\n");
    int p = client(QUIET);
    step(2);
    static char payload[NE_SHARE_PAYLOAD_MIN_BYTES];
    memset(payload, 'r', sizeof(payload));
    snprintf(line, sizeof(line), "PUB x %u\r\n", (unsigned)sizeof(payload));
    int sent = 0, received = 0;
    uint32_t refs_peak = 0, chunks_peak = 0;
    for (int i = 0; i < 400 && !ne_sim_server_closed(&sim, stalled); i++) {
        send_text(p, line);
        assert_int_equal(ne_sim_client_write(&sim, p, payload, sizeof(payload)), sizeof(payload));
        send_text(p, "\r\n");
        sent++;
        step(1);
        refs_peak = NE_MAX(refs_peak, srv.conns.chunks.refs.in_use);
        chunks_peak = NE_MAX(chunks_peak, srv.conns.chunks.chunks.in_use);
        const char *out = take(healthy);
        for (const char *q = strstr(out, "MSG x 1 "); q != NULL; q = strstr(q + 1, "MSG x 1 ")) {
            received++;
        }
    }
    assert_true(ne_sim_server_closed(&sim, stalled));
    assert_int_equal(srv.conns.closed[0].reason, NE_CLOSE_SLOW_CONSUMER_PENDING);
    assert_int_equal(srv.conns.chunks.refs.exhausted, 0);
    assert_int_equal(srv.conns.chunks.chunks.exhausted, 0);
    assert_true(refs_peak <= 2 * (NE_MAX_PENDING_BYTES / NE_SHARE_PAYLOAD_MIN_BYTES) + 8);
    assert_true(chunks_peak <= 16);
    step(2);
    const char *out = take(healthy);
    for (const char *q = strstr(out, "MSG x 1 "); q != NULL; q = strstr(q + 1, "MSG x 1 ")) {
        received++;
    }
    assert_int_equal(received, sent);
    assert_false(ne_sim_server_closed(&sim, p));
}

/* Time passes on the simulated clock. */
static void sleep_ms(long ms)
{
    ne_sim_clock_advance((uint64_t)ms);
}

/* Reads everything a client got into buf (at most cap bytes in all). */
static size_t read_into(int c, char *buf, size_t have, size_t cap)
{
    return have + ne_sim_client_read(&sim, c, buf + have, cap - have);
}

/* Sends a whole large message from client c, in pieces the simulated socket
 * takes, one loop turn each; the subscriber's bytes are read as they come.
 * Returns the subscriber's bytes read meanwhile. */
static size_t publish_large(int c, const char *subject, const char *payload, size_t len, int sub,
                            char *got, size_t got_cap)
{
    char line[96];
    int n = snprintf(line, sizeof(line), "PUB %s %zu\r\n", subject, len);
    send_text(c, line);
    (void)n;
    size_t sent = 0, have = 0;
    /* While the message waits for room (its reads paused), time must pass
     * for stalled ones to be cut: 1 ms a turn, at most 2000 turns. */
    for (int turn = 0; turn < 2000 && sent < len; turn++) {
        sent += ne_sim_client_write(&sim, c, payload + sent, NE_MIN(len - sent, (size_t)65536));
        if (srv.conns.paused_head != NULL) {
            sleep_ms(1);
        }
        step(1);
        have = read_into(sub, got, have, got_cap);
    }
    assert_int_equal(sent, len);
    send_text(c, "\r\n");
    /* Then 20 turns after the last one in which a reader waited. */
    int quiet = 0;
    for (int turn = 0; turn < 4000 && quiet < 20; turn++) {
        bool waiting = srv.conns.paused_head != NULL;
        if (waiting) {
            sleep_ms(1);
        }
        step(1);
        have = read_into(sub, got, have, got_cap);
        quiet = waiting ? 0 : quiet + 1;
    }
    return have;
}

/* True when buf holds exactly one "MSG <subject> <sid> <len>\r\n" with the
 * payload and its CRLF. */
static bool one_whole_message(const char *buf, size_t n, const char *payload, size_t len)
{
    const char *body = memchr(buf, '\n', n);
    if (body == NULL || strncmp(buf, "MSG ", 4) != 0) {
        return false;
    }
    body++;
    return n - (size_t)(body - buf) == len + 2 && memcmp(body, payload, len) == 0 &&
           memcmp(body + len, "\r\n", 2) == 0;
}

static void monitored_short_deadline(ne_server_options *o)
{
    with_http(o);
    o->partial_msg_timeout_ms = 100;
}

/* Issue 13 item 4: eight publishers each start a message of almost 1 MiB,
 * send 70 KB of it and go silent (before the fix they held every chunk: the
 * next client got no INFO). Incomplete messages now stay within
 * NE_PARTIAL_INPUT_CHUNKS, so a new client still gets INFO, a subscriber
 * gets a small message at once and a large one as soon as stalled ones are
 * cut, /varz answers; each stalled publisher is closed at its deadline and
 * everything goes back to the pools. */
static void test_stalled_large_publishers_do_not_starve_others_CP68(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(monitored_short_deadline);
    int sub = client(QUIET);
    send_text(sub, "SUB ok 1\r\n");
    step(2);
    enum { HOGS = 8, SENT = 70000, BIG = 100000 };
    static char bytes[BIG];
    memset(bytes, 'h', sizeof(bytes));
    int hogs[HOGS];
    for (int i = 0; i < HOGS; i++) {
        hogs[i] = client(QUIET);
        send_text(hogs[i], "PUB hog 1048000\r\n");
        assert_int_equal(ne_sim_client_write(&sim, hogs[i], bytes, SENT), SENT);
        step(1);
    }
    step(2);
    assert_true(srv.conns.partial_chunks <= NE_PARTIAL_INPUT_CHUNKS);
    assert_true(ne_chunk_available(&srv.conns.chunks) >= NE_CHUNK_COUNT - NE_PARTIAL_INPUT_CHUNKS);
    /* A new client is served. */
    int fresh = ne_sim_connect(&sim, port);
    step(2);
    assert_true(strncmp(take(fresh), "INFO {", 6) == 0);
    /* The subscriber gets a small message and one that needs chunks. */
    int pub = client(QUIET);
    send_text(pub, "PUB ok 2\r\nhi\r\n");
    step(2);
    assert_string_equal(take(sub), "MSG ok 1 2\r\nhi\r\n");
    static char got[BIG + 64];
    memset(bytes, 'b', sizeof(bytes));
    size_t n = publish_large(pub, "ok", bytes, BIG, sub, got, sizeof(got));
    assert_true(one_whole_message(got, n, bytes, BIG));
    /* Monitoring answers. */
    assert_true(strncmp(http("GET /varz HTTP/1.1\r\n\r\n"), "HTTP/1.1 200 OK", 15) == 0);
    /* Every stalled publisher is closed at its deadline, the ones that
     * waited for room included (they start, stall and time out in turn). */
    int closed = 0;
    for (int i = 0; i < 1000 && closed < HOGS; i++) {
        sleep_ms(2);
        step(1);
        closed = 0;
        for (int k = 0; k < HOGS; k++) {
            closed += ne_sim_server_closed(&sim, hogs[k]) ? 1 : 0;
        }
    }
    assert_int_equal(closed, HOGS);
    assert_int_equal(srv.conns.stats.slow_producers, HOGS);
    assert_int_equal(srv.conns.partial_chunks, 0);
    bool reason_seen = false;
    for (int i = 0; i < NE_CLOSED_CONN_RING; i++) {
        reason_seen = reason_seen || srv.conns.closed[i].reason == NE_CLOSE_SLOW_PRODUCER_DEADLINE;
    }
    assert_true(reason_seen);
    assert_false(ne_sim_server_closed(&sim, sub));
    assert_false(ne_sim_server_closed(&sim, pub));
}

static void short_stall(ne_server_options *o)
{
    o->partial_msg_stall_ms = 20;
    o->partial_msg_timeout_ms = 0;
}

/* Issue 13 item 4: when stalled messages fill the share, the next large
 * message does not wait for their deadline: the one stalled longest is cut
 * (Slow Producer (Stalled Message)) and the waiting message goes through
 * whole; the other stalled publishers are left alone. */
static void test_stalled_publisher_is_cut_to_make_room_for_a_waiting_one(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(short_stall);
    int sub = client(QUIET);
    send_text(sub, "SUB big 1\r\n");
    step(2);
    enum { SIZE = 1048000 };
    static char payload[SIZE];
    memset(payload, 'p', sizeof(payload));
    /* Stalled messages until the share has no room for one more. */
    int hogs[NE_PARTIAL_INPUT_CHUNKS / 2 + 1];
    int nhogs = 0;
    uint32_t need = (SIZE + 2 + 3 + NE_CHUNK_BYTES - 1) / NE_CHUNK_BYTES;
    while (srv.conns.partial_chunks + need <= NE_PARTIAL_INPUT_CHUNKS) {
        hogs[nhogs] = client(QUIET);
        send_text(hogs[nhogs], "PUB hog 1048000\r\nsome bytes");
        step(2);
        nhogs++;
    }
    assert_true(nhogs >= 1);
    sleep_ms(30);
    int pub = client(QUIET);
    static char got[SIZE + 64];
    size_t n = publish_large(pub, "big", payload, SIZE, sub, got, sizeof(got));
    assert_true(one_whole_message(got, n, payload, SIZE));
    assert_int_equal(srv.conns.stats.slow_producers, 1);
    int closed = 0;
    for (int i = 0; i < nhogs; i++) {
        closed += ne_sim_server_closed(&sim, hogs[i]) ? 1 : 0;
    }
    assert_int_equal(closed, 1);
    assert_int_equal(srv.conns.closed[0].reason, NE_CLOSE_SLOW_PRODUCER_STALLED);
    assert_false(ne_sim_server_closed(&sim, pub));
}

/* Publishers that keep sending are never cut, whatever the contention: four
 * maximum-size messages at once, more than the share holds, all arrive
 * whole; the last waits (paused) until one of the others is done. */
static void test_large_messages_beyond_the_share_wait_and_all_arrive(void **state)
{
    (void)state;
    int sub = client(QUIET);
    send_text(sub, "SUB big 1\r\n");
    step(2);
    enum { PUBS = 4 };
    static char payload[NE_MAX_PAYLOAD_BYTES];
    memset(payload, 'q', sizeof(payload));
    int pubs[PUBS];
    size_t sent[PUBS] = {0};
    char line[64];
    snprintf(line, sizeof(line), "PUB big %u\r\n", (unsigned)NE_MAX_PAYLOAD_BYTES);
    for (int i = 0; i < PUBS; i++) {
        pubs[i] = client(QUIET);
        send_text(pubs[i], line);
    }
    static char got[4 * (NE_MAX_PAYLOAD_BYTES + 64)];
    size_t have = 0;
    bool waited = false;
    for (int turn = 0; turn < 4000; turn++) {
        bool all = true;
        for (int i = 0; i < PUBS; i++) {
            if (sent[i] < sizeof(payload)) {
                sent[i] += ne_sim_client_write(&sim, pubs[i], payload + sent[i],
                                               NE_MIN(sizeof(payload) - sent[i], (size_t)16384));
                if (sent[i] == sizeof(payload)) {
                    send_text(pubs[i], "\r\n");
                }
                all = false;
            }
        }
        step(1);
        waited = waited || srv.conns.paused_head != NULL;
        have = read_into(sub, got, have, sizeof(got));
        if (all) {
            break;
        }
    }
    for (int turn = 0; turn < 40; turn++) {
        step(1);
        have = read_into(sub, got, have, sizeof(got));
    }
    assert_true(waited);
    assert_int_equal(srv.conns.stats.slow_producers, 0);
    size_t frame =
        (size_t)snprintf(line, sizeof(line), "MSG big 1 %u\r\n", (unsigned)NE_MAX_PAYLOAD_BYTES) +
        sizeof(payload) + 2;
    assert_int_equal(have, PUBS * frame);
    for (int i = 0; i < PUBS; i++) {
        assert_true(one_whole_message(got + i * frame, frame, payload, sizeof(payload)));
        assert_false(ne_sim_server_closed(&sim, pubs[i]));
    }
}

/* A connection closed while its reads are paused for chunks (a publisher
 * held back, then cut as a slow consumer or at a deadline) leaves the list of
 * paused readers when it is torn down: the end of the turn resumes that list
 * after the teardowns, and a freed connection on it was read again (a CPU
 * fault on the mps2-an385 firmware; under ASan, pooled objects are poisoned
 * when freed, so the read is reported here). */
static void test_a_paused_reader_closed_leaves_the_paused_list(void **state)
{
    (void)state;
    int a = client(QUIET);
    int b = client(QUIET);
    ne_conn *newest = srv.conns.active;
    ne_conn *older = newest->next;
    ne_conn_pause_reads(older);
    ne_conn_pause_reads(newest);
    assert_ptr_equal(srv.conns.paused_head, newest);
    ne_conn_close(newest, NE_CLOSE_SLOW_CONSUMER_PENDING, NULL);
    step(1);
    assert_true(ne_sim_server_closed(&sim, b));
    /* The other paused reader was resumed and still works. */
    assert_null(srv.conns.paused_head);
    send_text(a, "PING\r\n");
    step(2);
    assert_non_null(strstr(take(a), "PONG\r\n"));
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
    assert_int_equal(srv.conns.closed[0].reason, NE_CLOSE_STALE);
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
    /* The subscriber: the client connection with one subscription. */
    ne_conn *c = srv.conns.active;
    while (c != NULL && !(c->io != NULL && c->nsubs == 1)) {
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
    assert_int_equal(srv.conns.closed[0].reason, NE_CLOSE_SLOW_CONSUMER_DEADLINE);
    assert_int_equal(srv.conns.stats.slow_consumers, 1);
    send_text(pub, "PING\r\n");
    step(2);
    assert_non_null(strstr(take(pub), "PONG\r\n")); /* (after the server's own first PING) */
    assert_false(ne_sim_server_closed(&sim, pub));
}

/* A subscriber idle for longer than write_deadline, whose next message is
 * queued in a turn whose timers run before the turn's writes, is not taken
 * for a slow consumer: the deadline counts from when output waits, not
 * from the last write (CP-67). */
static void test_write_deadline_spares_a_subscriber_that_was_only_idle_CP67(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(short_write_deadline);
    int sub = client(QUIET);
    int pub = client(QUIET);
    send_text(sub, "SUB idle 1\r\nPING\r\n");
    step(2);
    assert_non_null(strstr(take(sub), "PONG\r\n"));
    /* Idle for three deadlines, ticks included. */
    for (int i = 0; i < 30; i++) {
        ne_sim_clock_advance(100);
        step(1);
        take(sub);
    }
    send_text(pub, "PUB idle 2\r\nhi\r\n");
    /* The next turn reads the publish and is a tick turn: the timers run
     * after the delivery and before the write. */
    ne_sim_clock_advance(100);
    step(1);
    step(1);
    assert_false(ne_sim_server_closed(&sim, sub));
    assert_non_null(strstr(take(sub), "MSG idle 1 2\r\nhi\r\n"));
    assert_int_equal(srv.conns.stats.slow_consumers, 0);
}

/* A monitoring connection that sends no complete request is dropped
 * NE_HTTP_REQUEST_TIMEOUT_MS after it connected, without a reply, however
 * its bytes trickle in (differences.md: Monitoring). */
static void test_idle_http_connection_is_dropped_at_the_request_deadline(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(short_write_deadline);
    int idle = ne_sim_connect(&sim, srv.mon.listener.port);
    int half = ne_sim_connect(&sim, srv.mon.listener.port);
    send_text(half, "GET /varz HTTP/1.1\r\nHost: x\r\n");
    step(2);
    for (int i = 0; i < NE_HTTP_REQUEST_TIMEOUT_MS / 100 - 1; i++) {
        if (i % 10 == 0) {
            send_text(half, "X"); /* a header byte now and then */
        }
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
    assert_int_equal(srv.router.stats.fanout_overflows, 1);
    send_text(c, "UNSUB 1\r\nPUB fan 1\r\ny\r\n");
    step(2);
    got = 0;
    for (const char *p = strstr(take(c), "MSG fan "); p != NULL; p = strstr(p + 1, "MSG fan ")) {
        got++;
    }
    assert_int_equal(got, NE_MAX_FANOUT);
    assert_int_equal(srv.router.stats.fanout_overflows, 1);
}

/* mprotect over the whole pages inside [p, p + n). */
static void protect_inside(void *p, size_t n, int prot)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)p + n) & ~(page - 1);
    assert_true(end > start);
    assert_int_equal(mprotect((void *)start, end - start, prot), 0);
}

/* A client of the server connects, says text and gets (into rx) what the
 * server answers within ten steps; returns the client. */
static int fresh_client_says(ne_server *s, ne_loop *loop, const char *text)
{
    int c = ne_sim_connect(&sim, ne_server_client_port(s));
    assert_true(c >= 0);
    for (int i = 0; i < 5; i++) {
        ne_sim_net_step(&sim, loop);
    }
    assert_int_equal(ne_sim_client_write(&sim, c, text, strlen(text)), strlen(text));
    for (int i = 0; i < 10; i++) {
        ne_sim_net_step(&sim, loop);
    }
    size_t n = ne_sim_client_read(&sim, c, rx, sizeof(rx) - 1);
    rx[n] = '\0';
    return c;
}

/* ne_server_init_zeroed (a board's static server) reads and writes nothing
 * of the subject trie and of the pools' storage: their pages become
 * resident only as clients use them (docs/performance.md, "Idle MQTT
 * connections"). */
static void test_init_of_a_zeroed_server_touches_neither_trie_nor_pools(void **state)
{
    (void)state;
    static ne_server fresh;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    protect_inside(fresh.router.trie.nodes, sizeof(fresh.router.trie.nodes), PROT_NONE);
    protect_inside(fresh.router.trie.slots, sizeof(fresh.router.trie.slots), PROT_NONE);
    protect_inside(&fresh.storage, sizeof(fresh.storage), PROT_NONE);
    int rc = ne_server_init_zeroed(&fresh, &opts, &net, NULL);
    protect_inside(fresh.router.trie.nodes, sizeof(fresh.router.trie.nodes),
                   PROT_READ | PROT_WRITE);
    protect_inside(fresh.router.trie.slots, sizeof(fresh.router.trie.slots),
                   PROT_READ | PROT_WRITE);
    protect_inside(&fresh.storage, sizeof(fresh.storage), PROT_READ | PROT_WRITE);
    assert_int_equal(rc, NE_OK);
    assert_int_equal(ne_server_start(&fresh), NE_OK);
    ne_loop loop;
    ne_server_loop(&fresh, &loop);
    (void)fresh_client_says(&fresh, &loop,
                            "CONNECT {}\r\nSUB a.b 1\r\nPUB a.b 2\r\nhi\r\nPING\r\n");
    assert_non_null(strstr(rx, "MSG a.b 1 2\r\nhi\r\n"));
    assert_non_null(strstr(rx, "PONG\r\n"));
    shutdown_idle(&fresh);
}

/* A server without allow_responses never reads its response-permission
 * table (CP-82), not even when a client closes: the table's pages stay
 * out of the resident set (docs/performance.md, "Idle MQTT connections"). */
static void test_a_closing_client_reads_no_unused_response_permission(void **state)
{
    (void)state;
    static ne_server fresh;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    assert_int_equal(ne_server_init_zeroed(&fresh, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&fresh), NE_OK);
    ne_loop loop;
    ne_server_loop(&fresh, &loop);
    protect_inside(fresh.router.resp_perms, sizeof(fresh.router.resp_perms), PROT_NONE);
    int c = fresh_client_says(&fresh, &loop,
                              "CONNECT {}\r\nSUB a.b 1\r\nPUB a.b _INBOX.r 2\r\nhi\r\nPING\r\n");
    assert_non_null(strstr(rx, "MSG a.b 1 _INBOX.r 2\r\nhi\r\n"));
    ne_sim_client_close(&sim, c);
    for (int i = 0; i < 10 && !ne_sim_server_closed(&sim, c); i++) {
        ne_sim_net_step(&sim, &loop);
    }
    assert_true(ne_sim_server_closed(&sim, c));
    assert_int_equal(fresh.router.resp_perms_used, 0);
    protect_inside(fresh.router.resp_perms, sizeof(fresh.router.resp_perms),
                   PROT_READ | PROT_WRITE);
    shutdown_idle(&fresh);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_of_a_zeroed_server_touches_neither_trie_nor_pools),
        cmocka_unit_test(test_a_closing_client_reads_no_unused_response_permission),
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
        cmocka_unit_test_setup_teardown(test_one_connection_cannot_take_every_subscription_CP36,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_one_connection_cannot_take_every_trie_node, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ping_interval_closes_stale_connection_CP48, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_fanout_shares_one_copy_of_a_large_payload, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_monitoring_endpoints_answer_with_nats_server_fields_MON01, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitoring_refuses_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_monitoring_full_pool_makes_room_for_a_new_request,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_auth_accepts_right_credentials_and_refuses_wrong_ones_CP71, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_timeout_closes_silent_client_CP23, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_write_deadline_closes_a_subscriber_that_takes_nothing_CP67, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_write_deadline_spares_a_subscriber_that_was_only_idle_CP67, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_idle_http_connection_is_dropped_at_the_request_deadline, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fanout_overflow_delivers_to_the_first_max_fanout,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_chunk_pool_exhaustion_closes_the_slowest_consumer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_paused_reader_keeps_its_input_in_the_shared_buffer,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_message_is_queued_whole_or_not_at_all_after_a_reclaim,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_stalled_large_publishers_do_not_starve_others_CP68,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_stalled_publisher_is_cut_to_make_room_for_a_waiting_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_large_messages_beyond_the_share_wait_and_all_arrive,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_paused_reader_closed_leaves_the_paused_list, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_subscriber_that_never_reads_holds_at_most_its_pending,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("server", tests, NULL, NULL);
}
