/* Leaf node protocol over the simulated network (port/sim): the test plays
 * the hub of a solicited remote, or a leaf connecting to our leaf listener.
 * After each test the server is shut down and every pool, the leaf pools
 * included, must be back to idle. IDs refer to section 2 of the NATS
 * inventory (LN-xx). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "leaf/ne_leaf.h"
#include "server/ne_server.h"
#include "server/ne_server_conf.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_net.h"

#define HUB_PORT 7422

static ne_server srv;
static ne_sim_net sim;
static uint16_t port;
static char rx[NE_SIM_BUFFER_BYTES + 1];
static char acc[NE_SIM_BUFFER_BYTES + 1];
/* Bytes read from a peer's socket but not yet consumed by a wait_for. */
static char pending[NE_SIM_MAX_SOCKETS][8192];

static const char *start_token; /* server token for the next start, or NULL */

static void start(bool remote, bool listen)
{
    memset(pending, 0, sizeof(pending));
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    if (remote) {
        opts.leaf.remote_count = 1;
        snprintf(opts.leaf.remotes[0].urls[0], NE_LEAF_URL_BYTES, "nats-leaf://127.0.0.1:%d",
                 HUB_PORT);
        opts.leaf.remotes[0].url_count = 1;
        opts.leaf.reconnect_ms = 200;
    }
    if (listen) {
        opts.leaf.listen_enabled = true;
        opts.leaf.listen_port = 0;
    }
    if (start_token != NULL) {
        snprintf(opts.auth_token, sizeof(opts.auth_token), "%s", start_token);
    }
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    port = ne_server_client_port(&srv);
}

static int setup_remote(void **state)
{
    (void)state;
    start(true, false);
    return 0;
}

static int setup_listen(void **state)
{
    (void)state;
    start(false, true);
    return 0;
}

static int setup_listen_token(void **state)
{
    (void)state;
    start_token = "t0k3n";
    start(false, true);
    start_token = NULL;
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

/* Time passes only here: the simulated clock (port/sim/ne_sim_clock.h). */
static void sleep_ms(uint64_t ms)
{
    ne_sim_clock_advance(ms);
}

static const char *take(int c)
{
    size_t p = strlen(pending[c]);
    memcpy(rx, pending[c], p);
    pending[c][0] = '\0';
    size_t n = ne_sim_client_read(&sim, c, rx + p, sizeof(rx) - 1 - p);
    rx[p + n] = '\0';
    return rx;
}

/* Steps until the text seen by c contains `want`; returns the text up to
 * and including it (the rest stays pending). Bounded. */
static const char *wait_for(int c, const char *want)
{
    size_t len = strlen(pending[c]);
    memcpy(acc, pending[c], len + 1);
    pending[c][0] = '\0';
    for (int i = 0; i < 400; i++) {
        step(1);
        size_t n = ne_sim_client_read(&sim, c, acc + len, sizeof(acc) - 1 - len);
        len += n;
        acc[len] = '\0';
        char *at = strstr(acc, want);
        if (at != NULL) {
            char *rest = at + strlen(want);
            size_t rest_len = strlen(rest);
            if (rest_len < sizeof(pending[c])) {
                memcpy(pending[c], rest, rest_len + 1);
            }
            *rest = '\0';
            return acc;
        }
        sleep_ms(5);
    }
    fail_msg("timed out waiting for \"%s\"; got \"%s\"", want, acc);
    return NULL;
}

static void send_text(int c, const char *text)
{
    assert_int_equal(ne_sim_client_write(&sim, c, text, strlen(text)), strlen(text));
}

/* Waits for the server's connection to the hub and completes the handshake
 * as a nats-server hub does (LN-02, LN-05, LN-07). */
static int hub_handshake(void)
{
    int h = -1;
    for (int i = 0; i < 400 && h < 0; i++) {
        step(1);
        h = ne_sim_outbound(&sim, HUB_PORT);
        if (h < 0) {
            sleep_ms(5);
        }
    }
    assert_true(h >= 0);
    send_text(h, "INFO {\"server_id\":\"NHUB\",\"server_name\":\"hub\",\"version\":\"2.9.10\","
                 "\"headers\":true,\"auth_required\":true,\"max_payload\":1048576,"
                 "\"client_id\":4,\"nonce\":\"abc\",\"info_on_connect\":true,"
                 "\"leafnode_urls\":[\"127.0.0.1:7422\"]}\r\n");
    wait_for(h, "CONNECT {");
    const char *got = wait_for(h, "}\r\n");
    assert_non_null(strstr(got, "\"headers\":true"));
    assert_null(strstr(got, "\"lang\""));
    send_text(h, "INFO {\"server_id\":\"NHUB\",\"server_name\":\"hub\",\"headers\":true,"
                 "\"client_id\":4,\"info_on_connect\":true,\"connect_info\":true,"
                 "\"leafnode_urls\":[],\"remote_account\":\"$G\"}\r\n");
    wait_for(h, "LS+ $LDS.");
    return h;
}

static int client(void)
{
    int c = ne_sim_connect(&sim, port);
    assert_true(c >= 0);
    step(2);
    take(c);
    send_text(c, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n");
    step(2);
    return c;
}

static void test_handshake_and_loop_subject_LN05_LN22(void **state)
{
    (void)state;
    int h = hub_handshake();
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 1);
    assert_int_equal(srv.leaf.remotes[0].connects, 1);
    (void)h;
}

static void test_local_interest_goes_to_hub_with_queue_weights_LN10_LN11(void **state)
{
    (void)state;
    int h = hub_handshake();
    int c = client();
    send_text(c, "SUB a.> 1\r\nSUB a.> 2\r\nSUB w q 3\r\nSUB w q 4\r\n");
    const char *got = wait_for(h, "LS+ w q 2\r\n");
    /* Plain interest is sent once (LN-11); a queue's weight on each change. */
    assert_non_null(strstr(got, "LS+ a.>\r\nLS+ w q 1\r\nLS+ w q 2\r\n"));
    send_text(c, "UNSUB 1\r\nUNSUB 3\r\n");
    got = wait_for(h, "LS+ w q 1\r\n");
    assert_null(strstr(got, "LS- a.>"));
    send_text(c, "UNSUB 2\r\nUNSUB 4\r\n");
    got = wait_for(h, "LS- w q\r\n");
    assert_non_null(strstr(got, "LS- a.>\r\n"));
}

static void test_interest_is_resent_on_a_new_link_LN12(void **state)
{
    (void)state;
    int c = client();
    send_text(c, "SUB early 1\r\n");
    step(2);
    int h = hub_handshake();
    const char *got = wait_for(h, "LS+ early\r\n");
    assert_non_null(got);
}

static void test_messages_both_ways_with_headers_and_queues_LN17_LN19(void **state)
{
    (void)state;
    int h = hub_handshake();
    int c = client();
    send_text(c, "SUB down.* 1\r\nSUB job grp 2\r\n");
    wait_for(h, "LS+ job grp 1");
    /* From the hub: plain, with reply, with headers, queue-targeted. */
    send_text(h, "LMSG down.a 2\r\nhi\r\nLMSG down.b r.1 3\r\nabc\r\n"
                 "HMSG down.c 12 14\r\nNATS/1.0\r\n\r\nyo\r\nLMSG job | grp 1\r\nz\r\n"
                 "LMSG job 1\r\nn\r\n");
    const char *got = wait_for(c, "MSG job 2 1\r\nz\r\n");
    assert_non_null(strstr(got, "MSG down.a 1 2\r\nhi\r\n"));
    assert_non_null(strstr(got, "MSG down.b 1 r.1 3\r\nabc\r\n"));
    assert_non_null(strstr(got, "HMSG down.c 1 12 14\r\nNATS/1.0\r\n\r\nyo\r\n"));
    /* An LMSG without a queue list is not for the queue group (LN-18). */
    assert_null(strstr(got, "\r\nn\r\n"));
    /* To the hub: only what it asked for, with its queue group named. */
    send_text(h, "LS+ up.> \r\nLS+ svc workers 3\r\n");
    step(3);
    send_text(c, "PUB nobody 1\r\nx\r\nPUB up.x reply 2\r\nok\r\n"
                 "HPUB up.h 12 14\r\nNATS/1.0\r\n\r\nhh\r\nPUB svc 1\r\ns\r\n");
    got = wait_for(h, "LMSG svc | workers 1\r\ns\r\n");
    assert_non_null(strstr(got, "LMSG up.x reply 2\r\nok\r\n"));
    assert_non_null(strstr(got, "HMSG up.h 12 14\r\nNATS/1.0\r\n\r\nhh\r\n"));
    assert_null(strstr(got, "nobody"));
}

static void test_local_queue_member_is_preferred(void **state)
{
    (void)state;
    int h = hub_handshake();
    int c = client();
    send_text(h, "LS+ jobs grp 5\r\n");
    send_text(c, "SUB jobs grp 1\r\n");
    wait_for(h, "LS+ jobs grp 1");
    for (int i = 0; i < 20; i++) {
        send_text(c, "PUB jobs 1\r\nx\r\n");
    }
    step(5);
    const char *got = take(c);
    int local = 0;
    for (const char *p = got; (p = strstr(p, "MSG jobs 1 1")) != NULL; p++) {
        local++;
    }
    assert_int_equal(local, 20);
    assert_null(strstr(take(h), "LMSG jobs"));
}

static void test_hub_interest_and_ls_minus_LN13(void **state)
{
    (void)state;
    int h = hub_handshake();
    int c = client();
    send_text(h, "LS+ t\r\nLS+ t\r\n");
    step(3);
    uint32_t subs = srv.router.sub_pool.in_use;
    send_text(c, "PUB t 1\r\na\r\n");
    wait_for(h, "LMSG t 1\r\na\r\n");
    send_text(h, "LS- t\r\n");
    step(3);
    assert_int_equal(srv.router.sub_pool.in_use, subs - 1);
    send_text(c, "PUB t 1\r\nb\r\n");
    step(3);
    assert_null(strstr(take(h), "LMSG"));
}

static void test_loop_detected_waits_before_reconnecting_LN23(void **state)
{
    (void)state;
    int h = hub_handshake();
    char line[80];
    snprintf(line, sizeof(line), "LS+ %s\r\n", srv.leaf.lds);
    send_text(h, line);
    const char *got = wait_for(h, "Delaying attempt to reconnect for 30s'");
    assert_non_null(strstr(got, "-ERR 'Loop detected for leafnode account=\"$G\""));
    step(3);
    assert_true(ne_sim_server_closed(&sim, h));
    assert_int_equal(srv.leaf.stats.loops_detected, 1);
    assert_true(srv.leaf.remotes[0].next_attempt_ms >= srv.conns.now_ms + 20000);
}

static void test_refused_connect_retries_at_the_delay_LN28(void **state)
{
    (void)state;
    sim.refuse_connect = true;
    /* One second of simulated time in 10 ms turns at a 200 ms delay: one
     * attempt per delay, not one per turn (LN-28), each exactly the delay
     * after the one before (the timers run on 100 ms ticks, which the
     * delay is a multiple of). */
    uint64_t attempts = srv.leaf.remotes[0].attempts;
    uint64_t at[16];
    uint32_t n = 0;
    for (int i = 0; i < 100; i++) {
        sleep_ms(10);
        step(1);
        if (srv.leaf.remotes[0].attempts != attempts) {
            assert_int_equal(srv.leaf.remotes[0].attempts, attempts + 1);
            attempts = srv.leaf.remotes[0].attempts;
            assert_true(n < 16);
            at[n++] = ne_sim_clock_now_ms();
        }
    }
    assert_true(n >= 4);
    assert_true(n <= 6);
    for (uint32_t k = 1; k < n; k++) {
        assert_int_equal(at[k] - at[k - 1], 200);
    }
    /* Once the hub is back the next attempt connects. */
    sim.refuse_connect = false;
    hub_handshake();
}

/* Log lines kept by the test's sink: level and text. */
static struct {
    ne_log_level level;
    char text[200];
} logged[32];
static uint32_t logged_count;

static void keep_log(void *ctx, ne_log_level level, const char *line, size_t len)
{
    (void)ctx;
    if (logged_count < 32) {
        logged[logged_count].level = level;
        snprintf(logged[logged_count].text, sizeof(logged[0].text), "%.*s", (int)len, line);
        logged_count++;
    }
}

/* The logged line (from `from` on) that holds `part`, or -1. */
static int logged_index(uint32_t from, const char *part)
{
    for (uint32_t i = from; i < logged_count; i++) {
        if (strstr(logged[i].text, part) != NULL) {
            return (int)i;
        }
    }
    return -1;
}

/* An unreachable hub is logged as nats-server logs it: the first failed
 * attempt at [ERR], the next ones at [DBG], counted until a connection
 * succeeds; the count starts again after it (LN-30). The attempt is not
 * called a connection that closed. */
static void test_unreachable_hub_is_logged_at_error_then_debug_LN30(void **state)
{
    (void)state;
    logged_count = 0;
    srv.log.level = NE_LOG_DEBUG;
    srv.log.write = keep_log;
    sim.refuse_connect = true;
    for (int i = 0; i < 60; i++) {
        sleep_ms(10);
        step(1);
    }
    char want[160];
    snprintf(want, sizeof(want),
             "Error trying to connect as leafnode to remote server \"127.0.0.1:%d\" (attempt 1): "
             "connection refused",
             HUB_PORT);
    int first = logged_index(0, want);
    assert_true(first >= 0);
    assert_int_equal(logged[first].level, NE_LOG_ERROR);
    int second = logged_index(0, "(attempt 2): connection refused");
    assert_true(second > first);
    assert_int_equal(logged[second].level, NE_LOG_DEBUG);
    assert_int_equal(logged_index(0, "connection closed"), -1);
    /* Up, then unreachable again: attempt 1 again, at [ERR]. */
    sim.refuse_connect = false;
    int h = hub_handshake();
    ne_sim_client_close(&sim, h);
    sim.refuse_connect = true;
    uint32_t mark = logged_count;
    for (int i = 0; i < 30; i++) {
        sleep_ms(10);
        step(1);
    }
    int again = logged_index(mark, want);
    assert_true(again >= 0);
    assert_int_equal(logged[again].level, NE_LOG_ERROR);
    sim.refuse_connect = false;
    srv.log.write = NULL;
}

static void test_hub_closed_link_reconnects_and_resyncs(void **state)
{
    (void)state;
    int h = hub_handshake();
    int c = client();
    send_text(c, "SUB keep 1\r\n");
    wait_for(h, "LS+ keep");
    ne_sim_client_close(&sim, h);
    step(3);
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 0);
    send_text(c, "SUB during 2\r\n");
    step(2);
    int h2 = hub_handshake();
    wait_for(h2, "LS+ during");
    wait_for(h2, "LS+ keep");
}

static void test_wrong_port_info_closes_LN03(void **state)
{
    (void)state;
    int h = -1;
    for (int i = 0; i < 400 && h < 0; i++) {
        step(1);
        h = ne_sim_outbound(&sim, HUB_PORT);
        sleep_ms(h < 0 ? 5 : 0);
    }
    send_text(h, "INFO {\"server_id\":\"NX\",\"headers\":true}\r\n");
    step(3);
    assert_true(ne_sim_server_closed(&sim, h));
}

static void test_client_verbs_from_the_hub_close_the_link(void **state)
{
    (void)state;
    int h = hub_handshake();
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 1);
    send_text(h, "SUB x 1\r\n");
    wait_for(h, "-ERR 'Unknown Protocol Operation'");
    step(2);
    assert_true(ne_sim_server_closed(&sim, h));
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 0);
    /* The link comes back at the reconnect delay, on a new connection. */
    hub_handshake();
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 1);
}

/* Subscribes c to `count` subjects "<prefix>.<i>" (sids from first_sid),
 * without reading the answers. */
static void subscribe_many(int c, const char *prefix, int count, int first_sid)
{
    char line[64];
    for (int i = 0; i < count; i++) {
        snprintf(line, sizeof(line), "SUB %s.%d %d\r\n", prefix, i, first_sid + i);
        send_text(c, line);
        if (i % 64 == 63) {
            step(2);
        }
    }
    step(2);
}

static void test_interest_table_exhaustion_refuses_the_sub(void **state)
{
    (void)state;
    hub_handshake();
    /* Two clients fill the table, each up to its share. */
    int a = client();
    int b = client();
    subscribe_many(a, "a", NE_LEAF_INTEREST_PER_CONNECTION, 1);
    assert_null(strstr(take(a), "-ERR"));
    subscribe_many(b, "b", NE_LEAF_INTEREST_ENTRIES - NE_LEAF_INTEREST_PER_CONNECTION, 1);
    assert_null(strstr(take(b), "-ERR"));
    assert_int_equal(srv.leaf.interest_pool.in_use, NE_LEAF_INTEREST_ENTRIES);
    int c = client();
    send_text(c, "SUB one.more 1\r\n");
    step(2);
    assert_string_equal(take(c), "-ERR 'maximum subscriptions exceeded'\r\n");
    assert_int_equal(srv.leaf.stats.interest_refused, 1);
    /* A subject already sent needs no entry: it still works, and so does
     * the server. */
    send_text(c, "SUB a.1 2\r\nPING\r\n");
    step(2);
    assert_string_equal(take(c), "PONG\r\n");
}

/* One client subscribing to ever more subjects is refused at its share of
 * the table (NE_LEAF_INTEREST_PER_CONNECTION); the others are not. */
static void test_one_connection_cannot_fill_the_interest_table(void **state)
{
    (void)state;
    int h = hub_handshake();
    int hostile = client();
    subscribe_many(hostile, "h", NE_LEAF_INTEREST_PER_CONNECTION + 3, 1);
    const char *got = take(hostile);
    int refused = 0;
    for (const char *p = got; (p = strstr(p, "-ERR 'maximum subscriptions exceeded'")) != NULL;
         p++) {
        refused++;
    }
    assert_int_equal(refused, 3);
    assert_int_equal(srv.leaf.interest_pool.in_use, NE_LEAF_INTEREST_PER_CONNECTION);
    assert_int_equal(srv.leaf.stats.interest_refused, 3);
    int honest = client();
    send_text(honest, "SUB honest 1\r\nPING\r\n");
    step(2);
    assert_string_equal(take(honest), "PONG\r\n");
    wait_for(h, "LS+ honest\r\n");
    /* The hostile client goes: its entries go with it, exactly. */
    ne_sim_client_close(&sim, hostile);
    step(3);
    assert_int_equal(srv.leaf.interest_pool.in_use, 1);
}

/* The hub's LS+ when every subscription is taken: dropped and counted (the
 * link stays, nothing is sent for that subject); once a subscription is
 * free the same LS+ is taken (differences.md: Bounded interest). */
static void test_hub_interest_dropped_when_the_subscription_pool_is_full(void **state)
{
    (void)state;
    int h = hub_handshake();
    /* One subject for all: one leaf interest entry, every subscription. Two
     * clients, as one holds at most its share (NE_MAX_SUBSCRIPTIONS_PER_CONN). */
    _Static_assert(2 * NE_MAX_SUBSCRIPTIONS_PER_CONN >= NE_MAX_SUBSCRIPTIONS, "two shares fill it");
    int c = client();
    int d = client();
    int clients[2] = {c, d};
    char line[64];
    uint32_t sid = 1;
    for (int k = 0; k < 2; k++) {
        bool refused = false;
        for (uint32_t i = 0; i <= NE_MAX_SUBSCRIPTIONS && !refused; i++) {
            snprintf(line, sizeof(line), "SUB same %u\r\n", (unsigned)sid++);
            send_text(clients[k], line);
            if (i % 64 == 63 || srv.router.sub_pool.in_use + 64 > NE_MAX_SUBSCRIPTIONS) {
                step(2);
                refused = strstr(take(clients[k]), "-ERR 'maximum subscriptions exceeded'") != NULL;
            }
        }
        assert_true(refused);
    }
    assert_int_equal(srv.router.sub_pool.in_use, NE_MAX_SUBSCRIPTIONS);
    send_text(h, "LS+ from.hub\r\n");
    step(3);
    assert_int_equal(srv.leaf.stats.hub_subs_dropped, 1);
    assert_false(ne_sim_server_closed(&sim, h));
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 1);
    send_text(c, "PUB from.hub 1\r\nx\r\nPING\r\n");
    step(3);
    assert_string_equal(take(c), "PONG\r\n");
    assert_null(strstr(take(h), "LMSG"));
    /* One subscription freed: the hub's next LS+ is taken and delivery
     * follows it. */
    send_text(c, "UNSUB 1\r\n");
    step(2);
    send_text(h, "LS+ from.hub\r\n");
    step(3);
    assert_int_equal(srv.leaf.stats.hub_subs_dropped, 1);
    assert_int_equal(srv.router.sub_pool.in_use, NE_MAX_SUBSCRIPTIONS);
    send_text(c, "PUB from.hub 1\r\ny\r\n");
    wait_for(h, "LMSG from.hub 1\r\ny\r\n");
}

/* The solicitor's handshake (connect, the hub's INFO, its connect INFO) has
 * one deadline, NE_LEAF_HANDSHAKE_TIMEOUT_MS after the attempt; nats-server
 * has 1 s for the INFO and 2 s for the connect INFO (differences.md:
 * Handshake deadline). Simulated time, on the 100 ms timer ticks. */
static int attempt_at(uint64_t *at_ms)
{
    int h = -1;
    for (int i = 0; i < 400 && h < 0; i++) {
        sleep_ms(10);
        step(1);
        h = ne_sim_outbound(&sim, HUB_PORT);
    }
    assert_true(h >= 0);
    *at_ms = ne_sim_clock_now_ms(); /* the attempt ran in this turn */
    return h;
}

static void expect_close_at_deadline(int h, uint64_t at_ms)
{
    /* Tick by tick up to the deadline: open until it, closed at it. */
    while (ne_sim_clock_now_ms() + 100 < at_ms + NE_LEAF_HANDSHAKE_TIMEOUT_MS) {
        sleep_ms(100);
        step(1);
        assert_false(ne_sim_server_closed(&sim, h));
    }
    sleep_ms(at_ms + NE_LEAF_HANDSHAKE_TIMEOUT_MS - ne_sim_clock_now_ms());
    step(2);
    assert_true(ne_sim_server_closed(&sim, h));
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 0);
}

static void test_handshake_deadline_for_a_silent_hub(void **state)
{
    (void)state;
    uint64_t at_ms = 0;
    int h = attempt_at(&at_ms);
    expect_close_at_deadline(h, at_ms);
    assert_string_equal(take(h), ""); /* no CONNECT without the hub's INFO */
}

static void test_handshake_deadline_without_the_connect_info(void **state)
{
    (void)state;
    uint64_t at_ms = 0;
    int h = attempt_at(&at_ms);
    send_text(h, "INFO {\"server_id\":\"NHUB\",\"headers\":true,\"client_id\":4,"
                 "\"info_on_connect\":true,\"leafnode_urls\":[\"127.0.0.1:7422\"]}\r\n");
    wait_for(h, "CONNECT {");
    expect_close_at_deadline(h, at_ms);
}

/* ---- Hub role ---------------------------------------------------------------- */

static int leaf_peer(void)
{
    int l = ne_sim_connect(&sim, ne_server_leaf_port(&srv));
    assert_true(l >= 0);
    wait_for(l, "INFO {");
    const char *info = wait_for(l, "}\r\n");
    assert_non_null(strstr(info, "\"leafnode_urls\":["));
    assert_non_null(strstr(info, "\"client_id\":"));
    send_text(l, "CONNECT {\"server_id\":\"NLEAF\",\"name\":\"leaf\",\"headers\":true}\r\n");
    wait_for(l, "\"connect_info\":true");
    return l;
}

static void test_accepted_leaf_gets_interest_and_messages_LN02_LN06(void **state)
{
    (void)state;
    int c = client();
    send_text(c, "SUB from.leaf 1\r\n");
    step(2);
    int l = leaf_peer();
    wait_for(l, "LS+ from.leaf");
    send_text(l, "LMSG from.leaf 2\r\nhi\r\nLS+ to.leaf\r\n");
    wait_for(c, "MSG from.leaf 1 2\r\nhi\r\n");
    send_text(c, "PUB to.leaf 3\r\nabc\r\n");
    wait_for(l, "LMSG to.leaf 3\r\nabc\r\n");
}

/* A leaf link never extends JetStream: $JS.API.>, $KV.> and $OBJ.> cross
 * in neither direction and the peer's interest in them is not taken
 * (LN-33). The barrier (b.1, b.2) behind the denied messages arrives. */
static void test_jetstream_api_subjects_cross_in_neither_direction_LN33(void **state)
{
    (void)state;
    int c = client();
    send_text(c, "SUB $JS.API.> 1\r\nSUB $KV.> 2\r\nSUB b.1 3\r\n");
    step(2);
    int l = leaf_peer();
    const char *sent = wait_for(l, "LS+ b.1");
    assert_null(strstr(sent, "LS+ $JS.API.>"));
    assert_null(strstr(sent, "LS+ $KV.>"));
    send_text(l, "LMSG $JS.API.INFO 1\r\nx\r\nLMSG $KV.b.k 1\r\ny\r\nLMSG b.1 1\r\nz\r\n");
    const char *got = wait_for(c, "MSG b.1 3 1\r\nz\r\n");
    assert_null(strstr(got, "MSG $JS.API.INFO"));
    assert_null(strstr(got, "MSG $KV.b.k"));
    send_text(l, "LS+ $OBJ.>\r\nLS+ $JS.API.>\r\nLS+ b.2\r\n");
    step(2);
    send_text(c, "PUB $OBJ.o.c 1\r\no\r\nPUB $JS.API.INFO 0\r\n\r\nPUB b.2 1\r\nw\r\n");
    got = wait_for(l, "LMSG b.2 1\r\nw\r\n");
    assert_null(strstr(got, "LMSG $OBJ"));
    assert_null(strstr(got, "LMSG $JS.API"));
}

/* A JetStream delivery crosses as "reply@stored subject" and its
 * subscribers on the other side see the stored subject, as nats-server
 * passes it; only a $JS.ACK reply is split. */
static void test_jetstream_delivery_shows_its_stored_subject_across_the_link(void **state)
{
    (void)state;
    int c = client();
    send_text(c, "SUB _INBOX.x 1\r\n");
    step(2);
    int l = leaf_peer();
    wait_for(l, "LS+ _INBOX.x");
    send_text(l, "LMSG _INBOX.x $JS.ACK.S.C.1.2.3.4.5@orders.eu 2\r\nhi\r\n"
                 "LMSG _INBOX.x other@reply 2\r\nho\r\n");
    wait_for(c, "MSG orders.eu 1 $JS.ACK.S.C.1.2.3.4.5 2\r\nhi\r\n");
    wait_for(c, "MSG _INBOX.x 1 other@reply 2\r\nho\r\n");
    ne_batch b;
    memset(&b, 0, sizeof(b));
    char line[128];
    ne_slice subj = {"_INBOX.x", 8}, shown = {"orders.eu", 9}, reply = {"$JS.ACK.S.C.1", 13};
    size_t n = ne_leaf_msg_line(line, sizeof(line), &b, subj, shown, reply, false, 0, 2);
    assert_int_equal(n, strlen("LMSG _INBOX.x $JS.ACK.S.C.1@orders.eu 2\r\n"));
    assert_memory_equal(line, "LMSG _INBOX.x $JS.ACK.S.C.1@orders.eu 2\r\n", n);
    /* Without a reply there is nothing to carry it. */
    n = ne_leaf_msg_line(line, sizeof(line), &b, subj, shown, (ne_slice){"", 0}, false, 0, 2);
    assert_memory_equal(line, "LMSG _INBOX.x 2\r\n", n);
    assert_int_equal(ne_leaf_msg_line(line, 20, &b, subj, shown, reply, false, 0, 2), 0);
    ne_slice r = {"$JS.ACK.a@", 10}, s = {"", 0};
    assert_false(ne_msg_split_reply(&r, &s));
    assert_int_equal(r.len, 10);
}

static void test_accepted_leaf_needs_the_servers_token_LN26(void **state)
{
    (void)state;
    int bad = ne_sim_connect(&sim, ne_server_leaf_port(&srv));
    wait_for(bad, "INFO {");
    send_text(bad, "CONNECT {\"name\":\"leaf\",\"user\":\"nope\"}\r\n");
    wait_for(bad, "-ERR 'Authorization Violation'");
    int good = ne_sim_connect(&sim, ne_server_leaf_port(&srv));
    wait_for(good, "INFO {");
    send_text(good, "CONNECT {\"name\":\"leaf\",\"user\":\"t0k3n\"}\r\n");
    wait_for(good, "\"connect_info\":true");
    assert_int_equal(ne_leaf_connection_count(&srv.leaf), 1);
}

static void test_hub_passes_interest_and_messages_between_leafs_LN12(void **state)
{
    (void)state;
    int l1 = leaf_peer();
    int l2 = leaf_peer();
    send_text(l1, "LS+ from.one\r\nLS+ work q 2\r\n");
    wait_for(l2, "LS+ from.one\r\n");
    wait_for(l2, "LS+ work q 1\r\n");
    send_text(l2, "LMSG from.one 2\r\nhi\r\nLMSG work | q 1\r\nw\r\n");
    wait_for(l1, "LMSG from.one 2\r\nhi\r\n");
    wait_for(l1, "LMSG work | q 1\r\nw\r\n");
    /* Never back to the leaf the message came from. */
    step(3);
    assert_null(strstr(take(l2), "LMSG"));
}

static void test_leaf_pool_exhaustion_refuses_the_next_leaf(void **state)
{
    (void)state;
    int peers[NE_MAX_LEAF_CONNECTIONS];
    for (int i = 0; i < NE_MAX_LEAF_CONNECTIONS; i++) {
        peers[i] = ne_sim_connect(&sim, ne_server_leaf_port(&srv));
        assert_true(peers[i] >= 0);
    }
    step(3);
    assert_int_equal(srv.leaf.link_pool.in_use, NE_MAX_LEAF_CONNECTIONS);
    int extra = ne_sim_connect(&sim, ne_server_leaf_port(&srv));
    const char *got = wait_for(extra, "-ERR 'maximum connections exceeded'");
    assert_non_null(got);
    step(2);
    assert_true(ne_sim_server_closed(&sim, extra));
    assert_int_equal(srv.leaf.stats.links_refused, 1);
}

static void test_parse_leaf_msg_forms_LN17_LN18(void **state)
{
    (void)state;
    ne_op op;
    const char *l1 = "LMSG a.b + r.1 q1 q2 12";
    assert_int_equal(ne_leaf_parse_line(l1, strlen(l1), &op), NE_PROTO_OK);
    assert_true(ne_slice_eq(op.reply, "r.1", 3));
    assert_true(ne_slice_eq(op.queue, "q1 q2", 5));
    assert_int_equal(op.total_len, 12);
    const char *l2 = "HMSG a | q 4 10";
    assert_int_equal(ne_leaf_parse_line(l2, strlen(l2), &op), NE_PROTO_OK);
    assert_int_equal(op.kind, NE_OP_HMSG);
    assert_int_equal(op.reply.len, 0);
    assert_int_equal(op.hdr_len, 4);
    assert_int_equal(op.total_len, 10);
    const char *bad[] = {"LMSG a + r 3", "LMSG a |", "HMSG a 10 4", "LMSG", "LMSG a b c"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(ne_leaf_parse_line(bad[i], strlen(bad[i]), &op), NE_PROTO_BAD_ARGS);
    }
}

static void test_url_and_creds_parsing_LN24_LN25(void **state)
{
    (void)state;
    ne_leaf_url u;
    assert_int_equal(ne_leaf_parse_url("nats-leaf://me:pw@hub.example:7000", &u), NE_OK);
    assert_string_equal(u.host, "hub.example");
    assert_int_equal(u.port, 7000);
    assert_string_equal(u.user, "me");
    assert_string_equal(u.pass, "pw");
    assert_int_equal(ne_leaf_parse_url("127.0.0.1", &u), NE_OK);
    assert_int_equal(u.port, 7422);
    assert_int_equal(ne_leaf_parse_url("ws://x:1", &u), NE_ERR_UNSUPPORTED);
    assert_int_equal(ne_leaf_parse_url("nats://:1", &u), NE_ERR_INVALID);
    static const char creds[] =
        "-----BEGIN NATS USER JWT-----\neyJhbGciOi.eyJqdGkiOi.sig\n------END NATS USER "
        "JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "-----BEGIN USER NKEY "
        "SEED-----\nSUAMTBDAY6GSVRPMRIENXYZNUDXVJ52O4EH5RCRBIOAKGBY6WYKQDLKT5I\n"
        "------END USER NKEY SEED------\n";
    char jwt[256], seed[64];
    assert_int_equal(
        ne_leaf_parse_creds(creds, strlen(creds), jwt, sizeof(jwt), seed, sizeof(seed)), NE_OK);
    assert_string_equal(jwt, "eyJhbGciOi.eyJqdGkiOi.sig");
    assert_string_equal(seed, "SUAMTBDAY6GSVRPMRIENXYZNUDXVJ52O4EH5RCRBIOAKGBY6WYKQDLKT5I");
    static ne_leaf_info info;
    static ne_json_doc doc;
    const char *ij = "{\"client_id\":3,\"leafnode_urls\":[\"10.0.0.1:7422\",{\"x\":1},"
                     "\"10.0.0.2:7422\"],\"nonce\":\"n\"}";
    assert_int_equal(ne_leaf_parse_info(ij, strlen(ij), &info, &doc), NE_OK);
    assert_int_equal(info.url_count, 2);
    assert_string_equal(info.urls[1], "10.0.0.2:7422");
    assert_string_equal(info.nonce, "n");
    char sig[90];
    assert_int_equal(ne_leaf_sign_nonce(seed, "nonce", sig), NE_OK);
    assert_int_equal(strlen(sig), 86);
    /* ed25519 is deterministic: the nonce signed with this seed, base64url. */
    assert_string_equal(sig, "dj9HPTc5Mud-JaBmJD4iSB7H9xDlG2cdkDXon5x1qRRcAinqM3WUlry0vGyi9rSpv6"
                             "vM5WMD53uzbETY8_xQDg");
    assert_int_equal(ne_leaf_sign_nonce("SUAAAA", "nonce", sig), NE_ERR_PARSE);
    assert_int_equal(ne_leaf_parse_creds("no fences", 9, jwt, sizeof(jwt), seed, sizeof(seed)),
                     NE_ERR_PARSE);
}

static const char test_creds[] =
    "-----BEGIN NATS USER JWT-----\neyJhbGciOi.eyJqdGkiOi.sig\n------END NATS USER JWT------\n\n"
    "-----BEGIN USER NKEY SEED-----\nSUAMTBDAY6GSVRPMRIENXYZNUDXVJ52O4EH5RCRBIOAKGBY6WYKQDLKT5I\n"
    "------END USER NKEY SEED------\n";

static int creds_load(void *ctx, const char *path, char *buf, size_t cap, size_t *len)
{
    (void)ctx;
    if (strcmp(path, "/edge/leaf.creds") != 0) {
        return NE_ERR_NOT_FOUND;
    }
    *len = strlen(test_creds);
    assert_true(*len <= cap);
    memcpy(buf, test_creds, *len);
    return NE_OK;
}

static ne_conf conf;

static int apply_leaf_conf(const char *text, ne_server_options *o, char *err, size_t cap)
{
    static const ne_conf_io io = {creds_load, NULL, NULL};
    ne_board_settings board;
    memset(&board, 0, sizeof(board));
    ne_server_options_default(o);
    int rc = ne_conf_parse_text(&conf, "leaf.conf", text, strlen(text), &io);
    if (rc != NE_OK) {
        return rc;
    }
    return ne_server_apply_conf(&conf, o, &board, err, cap);
}

static void test_leafnodes_block_as_nats_server_reads_it_LN24(void **state)
{
    (void)state;
    static ne_server_options o;
    char err[256] = "";
    int rc = apply_leaf_conf(
        "leafnodes {\n"
        "  reconnect: 3\n"
        "  remotes [\n"
        "    { urls: [ \"nats-leaf://a:b@10.0.0.1:7422\", \"nats://10.0.0.2\" ],\n"
        "      deny_imports: \"secret.>\", deny_exports: [ \"local.>\", \"x\" ] }\n"
        "    { url: \"nats-leaf://10.0.0.3:7422\", credentials: \"/edge/leaf.creds\", "
        "account: \"$G\", no_randomize: true }\n"
        "  ]\n"
        "  listen: 127.0.0.1:7433\n"
        "  authorization { user: leaf, password: pw, timeout: 1.5 }\n"
        "}\n",
        &o, err, sizeof(err));
    if (rc != NE_OK) {
        fail_msg("%s", err);
    }
    assert_int_equal(o.leaf.reconnect_ms, 3000);
    assert_int_equal(o.leaf.remote_count, 2);
    assert_int_equal(o.leaf.remotes[0].url_count, 2);
    assert_string_equal(o.leaf.remotes[0].deny_imports[0], "secret.>");
    assert_int_equal(o.leaf.remotes[0].deny_export_count, 2);
    assert_string_equal(o.leaf.remotes[1].jwt, "eyJhbGciOi.eyJqdGkiOi.sig");
    assert_true(o.leaf.remotes[1].no_randomize);
    assert_true(o.leaf.listen_enabled);
    assert_int_equal(o.leaf.listen_port, 7433);
    assert_string_equal(o.leaf.auth_user, "leaf");
    assert_int_equal(o.leaf.auth_timeout_ms, 1500);
    assert_int_equal(apply_leaf_conf("leafnodes { listen: 7422, authorization { users: [\n"
                                     "  { user: la, password: p, account: A } ] } }\n",
                                     &o, err, sizeof(err)),
                     NE_OK);
    assert_int_equal(o.leaf.user_count, 1);
    assert_string_equal(o.leaf.users[0].account, "A");
    /* Errors name the position or the knob. */
    assert_int_not_equal(
        apply_leaf_conf("leafnodes { remotes [ { url: \"ws://h:1\" } ] }\n", &o, err, sizeof(err)),
        NE_OK);
    assert_non_null(strstr(err, "ws://h:1"));
    /* A credentials file that is not there is accepted, as nats-server's
     * -t accepts it (it reads the file when it connects); the start-up
     * log says so. */
    assert_int_equal(apply_leaf_conf("leafnodes { remotes [ { url: \"h\", creds: \"/nope\" } ] }\n",
                                     &o, err, sizeof(err)),
                     NE_OK);
    assert_true(o.leaf.remotes[0].creds_missing);
    assert_string_equal(o.leaf.remotes[0].creds_file, "/nope");
    assert_string_equal(o.leaf.remotes[0].jwt, "");
    assert_int_not_equal(apply_leaf_conf("leafnodes { remotes [ { url: h, colour: red } ] }\n", &o,
                                         err, sizeof(err)),
                         NE_OK);
    assert_non_null(strstr(err, "colour"));
    assert_int_equal(apply_leaf_conf("leafnodes { remotes [ { url: h, tls { cert_file: x } } ] }\n",
                                     &o, err, sizeof(err)),
                     NE_ERR_INVALID);
    assert_non_null(strstr(err, "ca_file"));
    assert_int_equal(
        apply_leaf_conf("leafnodes { remotes [ { url: h, tls { ca_file: /ca.pem } } ] }\n", &o, err,
                        sizeof(err)),
        NE_OK);
    assert_true(o.leaf.remotes[0].tls);
    assert_string_equal(o.leaf.remotes[0].tls_ca_file, "/ca.pem");
}

/* Starts the server from configuration text (the listen port is then
 * chosen by the simulated network). */
static void start_conf(const char *text)
{
    static ne_server_options o;
    char err[256] = "";
    if (apply_leaf_conf(text, &o, err, sizeof(err)) != NE_OK) {
        fail_msg("%s", err);
    }
    o.port = 0;
    o.leaf.listen_port = 0;
    memset(pending, 0, sizeof(pending));
    ne_net net;
    ne_sim_net_init(&sim, &net);
    assert_int_equal(ne_server_init(&srv, &o, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    port = srv.nats.listener.port;
}

static int client_as(const char *user, const char *pass)
{
    int c = ne_sim_connect(&sim, port);
    assert_true(c >= 0);
    wait_for(c, "\r\n");
    char line[160];
    snprintf(line, sizeof(line),
             "CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"%s\",\"pass\":\"%s\"}"
             "\r\nPING\r\n",
             user, pass);
    send_text(c, line);
    wait_for(c, "PONG\r\n");
    return c;
}

static int leaf_peer_as(const char *user, const char *pass)
{
    int l = ne_sim_connect(&sim, srv.leaf.listener.port);
    assert_true(l >= 0);
    wait_for(l, "}\r\n");
    char line[160];
    snprintf(line, sizeof(line),
             "CONNECT {\"server_id\":\"NLEAF\",\"name\":\"leaf\",\"user\":\"%s\","
             "\"pass\":\"%s\"}\r\n",
             user, pass);
    send_text(l, line);
    wait_for(l, "\"connect_info\":true");
    return l;
}

/* Issue 13 item 6: a client of account B subscribing and unsubscribing a
 * subject that account A's client holds must not withdraw the interest the
 * leaf (bound to A) was told of: only what was counted for that leaf is
 * taken back (LN-11, LN-12, LN-27). */
static void test_another_accounts_unsubscribe_keeps_the_interest_LN12(void **state)
{
    (void)state;
    start_conf("accounts {\n"
               "  A { users [ { user: a, password: pa } ] }\n"
               "  B { users [ { user: b, password: pb } ] }\n"
               "}\n"
               "leafnodes { listen: 127.0.0.1:7422, authorization { users [\n"
               "  { user: leaf, password: pl, account: A } ] } }\n");
    int l = leaf_peer_as("leaf", "pl");
    int a = client_as("a", "pa");
    int b = client_as("b", "pb");
    send_text(a, "SUB foo 1\r\nSUB q.a grp 2\r\n");
    wait_for(l, "LS+ foo\r\n");
    wait_for(l, "LS+ q.a grp 1\r\n");
    send_text(b, "SUB foo 1\r\nSUB q.a grp 2\r\nUNSUB 1\r\nUNSUB 2\r\nPING\r\n");
    wait_for(b, "PONG\r\n");
    send_text(l, "PING\r\n");
    const char *got = wait_for(l, "PONG\r\n");
    assert_null(strstr(got, "LS- foo"));
    assert_null(strstr(got, "LS+ q.a grp 0"));
    assert_null(strstr(got, "LS- q.a"));
    /* B's client closing takes nothing either; A's unsubscribe does. */
    send_text(b, "SUB foo 3\r\n");
    step(2);
    ne_sim_client_close(&sim, b);
    step(3);
    send_text(l, "PING\r\n");
    assert_null(strstr(wait_for(l, "PONG\r\n"), "LS- foo"));
    send_text(a, "UNSUB 1\r\n");
    wait_for(l, "LS- foo\r\n");
}

/* A leaf peer announcing ever more subjects: what it announces beyond its
 * share is not passed on to the other leaf, whose own clients' and other
 * peers' interest still is; the peer itself still gets its messages. */
static void test_a_leaf_beyond_its_share_is_not_passed_on(void **state)
{
    (void)state;
    int quiet = leaf_peer();
    int hostile = leaf_peer();
    char line[64];
    int n = NE_LEAF_INTEREST_PER_CONNECTION + 5;
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof(line), "LS+ h.%d\r\n", i);
        send_text(hostile, line);
        if (i % 64 == 63) {
            step(2);
        }
    }
    send_text(hostile, "PING\r\n");
    wait_for(hostile, "PONG\r\n");
    assert_int_equal(srv.leaf.interest_pool.in_use, NE_LEAF_INTEREST_PER_CONNECTION);
    assert_int_equal(srv.leaf.stats.interest_refused, 5);
    int c = client();
    send_text(c, "SUB honest 1\r\nPING\r\n");
    wait_for(c, "PONG\r\n");
    wait_for(quiet, "LS+ honest\r\n");
    snprintf(line, sizeof(line), "PUB h.%d 1\r\nx\r\n", n - 1);
    send_text(c, line);
    snprintf(line, sizeof(line), "LMSG h.%d 1\r\nx\r\n", n - 1);
    wait_for(hostile, line);
    ne_sim_client_close(&sim, hostile);
    step(3);
    assert_int_equal(srv.leaf.interest_pool.in_use, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_and_loop_subject_LN05_LN22, setup_remote,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_local_interest_goes_to_hub_with_queue_weights_LN10_LN11, setup_remote, teardown),
        cmocka_unit_test_setup_teardown(test_interest_is_resent_on_a_new_link_LN12, setup_remote,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_messages_both_ways_with_headers_and_queues_LN17_LN19,
                                        setup_remote, teardown),
        cmocka_unit_test_setup_teardown(test_local_queue_member_is_preferred, setup_remote,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_hub_interest_and_ls_minus_LN13, setup_remote,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_loop_detected_waits_before_reconnecting_LN23,
                                        setup_remote, teardown),
        cmocka_unit_test_setup_teardown(test_refused_connect_retries_at_the_delay_LN28,
                                        setup_remote, teardown),
        cmocka_unit_test_setup_teardown(test_unreachable_hub_is_logged_at_error_then_debug_LN30,
                                        setup_remote, teardown),
        cmocka_unit_test_setup_teardown(test_hub_closed_link_reconnects_and_resyncs, setup_remote,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wrong_port_info_closes_LN03, setup_remote, teardown),
        cmocka_unit_test_setup_teardown(
            test_hub_interest_dropped_when_the_subscription_pool_is_full, setup_remote, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_deadline_for_a_silent_hub, setup_remote,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_handshake_deadline_without_the_connect_info,
                                        setup_remote, teardown),
        cmocka_unit_test_setup_teardown(test_client_verbs_from_the_hub_close_the_link, setup_remote,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interest_table_exhaustion_refuses_the_sub,
                                        setup_remote, teardown),
        cmocka_unit_test_setup_teardown(test_one_connection_cannot_fill_the_interest_table,
                                        setup_remote, teardown),
        cmocka_unit_test_setup_teardown(test_accepted_leaf_gets_interest_and_messages_LN02_LN06,
                                        setup_listen, teardown),
        cmocka_unit_test_setup_teardown(test_jetstream_api_subjects_cross_in_neither_direction_LN33,
                                        setup_listen, teardown),
        cmocka_unit_test_setup_teardown(
            test_jetstream_delivery_shows_its_stored_subject_across_the_link, setup_listen,
            teardown),
        cmocka_unit_test_setup_teardown(test_accepted_leaf_needs_the_servers_token_LN26,
                                        setup_listen_token, teardown),
        cmocka_unit_test_setup_teardown(test_hub_passes_interest_and_messages_between_leafs_LN12,
                                        setup_listen, teardown),
        cmocka_unit_test_setup_teardown(test_leaf_pool_exhaustion_refuses_the_next_leaf,
                                        setup_listen, teardown),
        cmocka_unit_test_teardown(test_another_accounts_unsubscribe_keeps_the_interest_LN12,
                                  teardown),
        cmocka_unit_test_setup_teardown(test_a_leaf_beyond_its_share_is_not_passed_on, setup_listen,
                                        teardown),
        cmocka_unit_test(test_parse_leaf_msg_forms_LN17_LN18),
        cmocka_unit_test(test_url_and_creds_parsing_LN24_LN25),
        cmocka_unit_test(test_leafnodes_block_as_nats_server_reads_it_LN24),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
