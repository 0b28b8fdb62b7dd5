/* Mirrors and sources of another domain's stream (src/js/ne_js_source.c,
 * inventory JS-26b) over the simulated network and clock: the test is a
 * leaf connected to natsedge and plays the other domain's JetStream. It
 * answers the consumer create request natsedge sends on
 * $JS.hub.API.CONSUMER.CREATE.<origin> and delivers as nats-server does
 * across a leaf link (LMSG <deliver> $JS.ACK...@<stored subject>), so the
 * mirror's stores, flow control, and its new consumer after a gap or a
 * silence are seen at the instant they happen. After each test every pool
 * is back to idle. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "js/ne_js_int.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_net.h"

static ne_server srv;
static ne_sim_net sim;
static char rx[NE_SIM_BUFFER_BYTES + 1];
static char seen[NE_SIM_BUFFER_BYTES + 1];

static int setup(void **state)
{
    (void)state;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.js.enabled = true;
    snprintf(opts.js.domain, sizeof(opts.js.domain), "edge");
    opts.leaf.listen_enabled = true;
    opts.leaf.listen_port = 0;
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&srv), NE_OK);
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

static void advance(uint64_t ms)
{
    for (uint64_t done = 0; done < ms; done += 100) {
        ne_sim_clock_advance(ms - done < 100 ? ms - done : 100);
        step(2);
    }
}

static const char *take(int c)
{
    size_t n = ne_sim_client_read(&sim, c, rx, sizeof(rx) - 1);
    rx[n] = '\0';
    return rx;
}

static void send_text(int c, const char *text)
{
    assert_int_equal(ne_sim_client_write(&sim, c, text, strlen(text)), (int)strlen(text));
}

/* Everything c gets over n turns. */
static const char *gather(int c, int turns)
{
    seen[0] = '\0';
    for (int i = 0; i < turns; i++) {
        step(1);
        strncat(seen, take(c), sizeof(seen) - strlen(seen) - 1);
    }
    return seen;
}

/* What the hub peer got; a PING among it is answered. */
static const char *hub_take(int l)
{
    const char *got = take(l);
    if (strstr(got, "PING\r\n") != NULL) {
        send_text(l, "PONG\r\n");
    }
    return got;
}

/* The other domain: a leaf whose interest in its API reaches natsedge. */
static int hub_peer(void)
{
    int l = ne_sim_connect(&sim, ne_server_leaf_port(&srv));
    assert_true(l >= 0);
    step(4);
    take(l);
    send_text(l, "CONNECT {\"server_id\":\"NHUB\",\"name\":\"hub\",\"headers\":true,"
                 "\"domain\":\"hub\"}\r\nLS+ $JS.hub.API.CONSUMER.>\r\nLS+ $JS.FC.>\r\n");
    step(4);
    take(l);
    return l;
}

/* A client of natsedge, for the API. */
static int client(void)
{
    int c = ne_sim_connect(&sim, ne_server_client_port(&srv));
    assert_true(c >= 0);
    step(2);
    take(c);
    send_text(c, "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB in.> 1\r\n");
    step(2);
    take(c);
    return c;
}

/* From the create request the hub got: its reply and deliver subject. */
static void create_request(const char *got, char *reply, size_t reply_cap, char *deliver,
                           size_t deliver_cap)
{
    static const char line[] = "LMSG $JS.hub.API.CONSUMER.CREATE.O ";
    const char *at = strstr(got, line);
    assert_non_null(at);
    const char *r = at + strlen(line);
    size_t n = strcspn(r, " ");
    assert_true(n < reply_cap);
    memcpy(reply, r, n);
    reply[n] = '\0';
    const char *d = strstr(at, "\"deliver_subject\":\"");
    assert_non_null(d);
    d += strlen("\"deliver_subject\":\"");
    n = strcspn(d, "\"");
    assert_true(n < deliver_cap);
    memcpy(deliver, d, n);
    deliver[n] = '\0';
}

/* One delivery of the origin's consumer: LMSG with the stored subject after
 * the ack reply, as nats-server sends it over a leaf. */
static void deliver_one(int l, const char *deliver, uint64_t dc, uint64_t sseq, uint64_t dseq,
                        const char *subject, const char *data)
{
    char text[512];
    snprintf(text, sizeof(text), "LMSG %s $JS.ACK.O.X.%llu.%llu.%llu.0.0@%s %zu\r\n%s\r\n", deliver,
             (unsigned long long)dc, (unsigned long long)sseq, (unsigned long long)dseq, subject,
             strlen(data), data);
    send_text(l, text);
    step(4);
}

static ne_js_stream *stream_named(const char *name)
{
    return ne_js_stream_find(&srv.js.accounts[0], (ne_slice){name, (uint32_t)strlen(name)});
}

/* JS-26b: the consumer asked for, deliveries stored at the origin's
 * sequences under their stored subjects, flow control answered, and a new
 * consumer from the next sequence after a gap in the consumer's sequence
 * or NE_JS_SOURCE_STALL_MS of silence; the old consumer's deliveries are
 * no longer taken. */
static void test_mirror_asks_again_after_a_gap_or_silence_JS26b(void **state)
{
    (void)state;
    int l = hub_peer();
    int c = client();
    static const char body[] = "{\"name\":\"M\",\"storage\":\"memory\",\"mirror\":{\"name\":"
                               "\"O\",\"external\":{\"api\":\"$JS.hub.API\"}}}";
    char text[512];
    snprintf(text, sizeof(text), "PUB $JS.API.STREAM.CREATE.M in.1 %zu\r\n%s\r\n", strlen(body),
             body);
    send_text(c, text);
    const char *got = gather(l, 8);
    if (strstr(got, "CONSUMER.CREATE") == NULL) {
        fail_msg("no create request; the hub got [%s], the client [%s]", got, take(c));
    }
    assert_non_null(strstr(got, "\"deliver_policy\":\"all\""));
    assert_non_null(strstr(got, "\"ack_policy\":\"none\""));
    assert_non_null(strstr(got, "\"flow_control\":true"));
    assert_non_null(strstr(got, "\"idle_heartbeat\":1000000000"));
    char reply[64], deliver[160], again[160];
    create_request(got, reply, sizeof(reply), deliver, sizeof(deliver));
    assert_non_null(strstr(deliver, "$JS.M."));
    snprintf(text, sizeof(text), "LMSG %s 2\r\n{}\r\n", reply);
    send_text(l, text);
    step(4);
    /* Origin sequences 1 and 3 (2 was removed there): stored at 1 and 3. */
    deliver_one(l, deliver, 1, 1, 1, "cmd.a", "a");
    deliver_one(l, deliver, 1, 3, 2, "cmd.b", "b");
    ne_js_stream *st = stream_named("M");
    assert_non_null(st);
    assert_int_equal(st->store.state.msgs, 2);
    assert_int_equal(st->store.state.last_seq, 3);
    ne_js_subject_state ss;
    assert_int_equal(st->store.ops->subject_state(&st->store, (ne_slice){"cmd.b", 5}, &ss), NE_OK);
    assert_int_equal(ss.last_seq, 3);
    /* A flow control request is answered with an empty message. */
    static const char fc[] = "NATS/1.0 100 FlowControl Request\r\n\r\n";
    snprintf(text, sizeof(text), "HMSG %s $JS.FC.O.X.7 %zu %zu\r\n%s\r\n", deliver, strlen(fc),
             strlen(fc), fc);
    send_text(l, text);
    got = gather(l, 8);
    if (strstr(got, "LMSG $JS.FC.O.X.7 0\r\n") == NULL) {
        fail_msg("no flow control answer: [%s]", got);
    }
    /* A redelivery (dc 2) is not stored again. */
    deliver_one(l, deliver, 2, 3, 2, "cmd.b", "b");
    assert_int_equal(st->store.state.msgs, 2);
    /* Consumer sequence 4 after 2: one was missed; asked again from 4. */
    deliver_one(l, deliver, 1, 5, 4, "cmd.c", "c");
    got = gather(l, 8);
    assert_int_equal(st->store.state.msgs, 2);
    assert_non_null(strstr(got, "\"opt_start_seq\":4"));
    create_request(got, reply, sizeof(reply), again, sizeof(again));
    assert_string_not_equal(again, deliver);
    /* The old consumer's deliveries are no longer taken. */
    deliver_one(l, deliver, 1, 4, 3, "cmd.old", "old");
    assert_int_equal(st->store.state.msgs, 2);
    deliver_one(l, again, 1, 4, 1, "cmd.d", "d");
    assert_int_equal(st->store.state.msgs, 3);
    assert_int_equal(st->store.state.last_seq, 4);
    /* Silence: asked again from 5 once the stall time has passed. */
    take(l);
    advance(NE_JS_SOURCE_STALL_MS - 300);
    assert_null(strstr(take(l), "CONSUMER.CREATE"));
    advance(500);
    assert_non_null(strstr(take(l), "\"opt_start_seq\":5"));
}

/* JS-26b: a create request nobody answers is asked again after
 * NE_JS_SOURCE_RETRY_MS, then after twice as long each time (up to
 * NE_JS_SOURCE_RETRY_MAX_MS): on a slow link the answer can wait behind
 * what earlier consumers still push, and asking every 2 s would add a
 * consumer faster than the link drains them. An answer starts the
 * intervals over. */
static void test_unanswered_creates_are_asked_again_less_often_JS26b(void **state)
{
    (void)state;
    int l = hub_peer();
    int c = client();
    static const char body[] = "{\"name\":\"M\",\"storage\":\"memory\",\"mirror\":{\"name\":"
                               "\"O\",\"external\":{\"api\":\"$JS.hub.API\"}}}";
    char text[512];
    snprintf(text, sizeof(text), "PUB $JS.API.STREAM.CREATE.M in.1 %zu\r\n%s\r\n", strlen(body),
             body);
    send_text(c, text);
    assert_non_null(strstr(gather(l, 8), "CONSUMER.CREATE"));
    /* Unanswered: asked again 2, 4, 8, 16 and 32 s after the last one
     * (t: since the first). */
    uint64_t t = 0;
    uint64_t at[] = {2000, 6000, 14000, 30000, 62000};
    char reply[64], deliver[160];
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        advance(at[i] - 300 - t);
        if (strstr(hub_take(l), "CONSUMER.CREATE") != NULL) {
            fail_msg("asked again before %llu ms", (unsigned long long)at[i]);
        }
        advance(600);
        t = at[i] + 300;
        const char *got = hub_take(l);
        if (strstr(got, "CONSUMER.CREATE") == NULL) {
            fail_msg("not asked again at %llu ms", (unsigned long long)at[i]);
        }
        create_request(got, reply, sizeof(reply), deliver, sizeof(deliver));
    }
    /* The last one answered with a delivery: a silence then asks again
     * at the stall time and, unanswered, 2 s after that. */
    snprintf(text, sizeof(text), "LMSG %s 2\r\n{}\r\n", reply);
    send_text(l, text);
    step(4);
    deliver_one(l, deliver, 1, 1, 1, "cmd.a", "a");
    take(l);
    advance(NE_JS_SOURCE_STALL_MS + 200);
    assert_non_null(strstr(take(l), "CONSUMER.CREATE"));
    advance(NE_JS_SOURCE_RETRY_MS + 200);
    assert_non_null(strstr(take(l), "CONSUMER.CREATE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mirror_asks_again_after_a_gap_or_silence_JS26b, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unanswered_creates_are_asked_again_less_often_JS26b,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("js_source", tests, NULL, NULL);
}
