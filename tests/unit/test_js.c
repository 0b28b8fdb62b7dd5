/* JetStream (src/js) over the simulated network and the simulated clock:
 * the consumers' incremental num_pending against a count walked through the
 * store under random publishes, removals, purges, limits, acks and naks;
 * redelivery after ack_wait and backoff, pull expiry and heartbeats, push
 * heartbeats, inactive ephemerals and duplicate windows, each at the instant
 * the clock reaches it; and every JetStream pool back to idle once the
 * streams are gone. After each test the server is shut down and every pool
 * must be idle. IDs refer to shared/reference/nats-inventory.md. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "core/ne_subject.h"
#include "js/ne_js_int.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_net.h"

static ne_server srv;
static ne_sim_net sim;
static char rx[NE_SIM_BUFFER_BYTES + 1];
static int reply_n;

static int setup(void **state)
{
    (void)state;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.js.enabled = true;
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    reply_n = 0;
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
    size_t len = strlen(text);
    assert_int_equal(ne_sim_client_write(&sim, client, text, len), len);
}

/* Time passes in ticks of 100 ms, a loop turn after each. */
static void advance(uint64_t ms)
{
    for (uint64_t done = 0; done < ms; done += 100) {
        ne_sim_clock_advance(ms - done < 100 ? ms - done : 100);
        step(2);
    }
}

/* A client with headers, subscribed to in.> (sid 1). */
static int js_client(void)
{
    int c = ne_sim_connect(&sim, ne_server_client_port(&srv));
    assert_true(c >= 0);
    step(2);
    take(c);
    send_text(c, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
                 "\"no_responders\":true,\"protocol\":1}\r\nSUB in.> 1\r\nPING\r\n");
    step(2);
    assert_non_null(strstr(take(c), "PONG\r\n"));
    return c;
}

/* Publishes body on subject (reply: NULL for none); what the client got. */
static const char *pub(int c, const char *subject, const char *reply, const char *body)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "PUB %s %s%s%zu\r\n", subject, reply ? reply : "",
                     reply ? " " : "", strlen(body));
    assert_true(n > 0 && (size_t)n < sizeof(line));
    send_text(c, line);
    send_text(c, body);
    send_text(c, "\r\n");
    step(4);
    return take(c);
}

/* A request on subject answered on a fresh inbox. */
static const char *request(int c, const char *subject, const char *body)
{
    char reply[32];
    snprintf(reply, sizeof(reply), "in.%d", ++reply_n);
    return pub(c, subject, reply, body);
}

/* HPUB with one header. */
static const char *hpub(int c, const char *subject, const char *reply, const char *header,
                        const char *body)
{
    char hdr[256];
    int h = snprintf(hdr, sizeof(hdr), "NATS/1.0\r\n%s\r\n\r\n", header);
    char line[512];
    snprintf(line, sizeof(line), "HPUB %s %s %d %zu\r\n", subject, reply, h,
             (size_t)h + strlen(body));
    send_text(c, line);
    send_text(c, hdr);
    send_text(c, body);
    send_text(c, "\r\n");
    step(4);
    return take(c);
}

static void expect_ok(const char *got, const char *what)
{
    if (strstr(got, "\"error\"") != NULL || strstr(got, what) == NULL) {
        fail_msg("expected %s, got: %.400s", what, got);
    }
}

static ne_js_stream *stream_named(const char *name)
{
    ne_js_account *a = &srv.js.accounts[0];
    return ne_js_stream_find(a, (ne_slice){name, (uint32_t)strlen(name)});
}

/* ---- num_pending ------------------------------------------------------------------------- */

/* What num_pending must be, walked message by message through the store:
 * the filter's messages from the consumer's next sequence on, and while it
 * delivers the last per subject only each subject's last up to lps_end. */
static uint64_t walked_pending(const ne_js_consumer *c)
{
    ne_js_store *store = &c->stream->store;
    ne_slice f = ne_js_text_get(&srv.js, c->cfg.filter);
    uint64_t n = 0;
    char subject[NE_MAX_CONTROL_LINE_BYTES + 1];
    for (uint64_t seq = c->sseq; seq <= store->state.last_seq; seq++) {
        ne_js_msg_info info;
        memset(&info, 0, sizeof(info));
        info.subject = subject;
        info.subject_cap = sizeof(subject);
        if (store->ops->info(store, seq, &info) != NE_OK) {
            continue;
        }
        if (f.len > 0 && !ne_subject_matches(f.ptr, f.len, subject, info.subject_len)) {
            continue;
        }
        if (c->lps_end != 0 && seq <= c->lps_end) {
            ne_js_subject_state ss;
            assert_int_equal(
                store->ops->subject_state(store, (ne_slice){subject, info.subject_len}, &ss),
                NE_OK);
            if (ss.last_seq != seq) {
                continue;
            }
        }
        n++;
    }
    return n;
}

static void check_pending(const ne_js_stream *st, int op)
{
    uint32_t guard = 0;
    for (const ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        uint64_t walked = walked_pending(c);
        if (c->num_pending != walked) {
            fail_msg("op %d: consumer %s num_pending %llu, the store holds %llu", op, c->name,
                     (unsigned long long)c->num_pending, (unsigned long long)walked);
        }
        /* The ack floor lies below what is still to deliver. */
        assert_true(c->asflr < c->sseq);
        assert_true(c->pending_count <= NE_JS_MAX_PENDING);
    }
}

static uint32_t lcg_state;

static uint32_t rnd(uint32_t n)
{
    lcg_state = lcg_state * 1103515245u + 12345u;
    return (lcg_state >> 16) % n;
}

/* Acks, naks or terminates some of the deliveries in got (their reply
 * subjects), leaves the others pending. */
static void answer_some(int c, const char *got)
{
    char acks[32][160];
    int count = 0;
    for (const char *p = strstr(got, "$JS.ACK."); p != NULL && count < 32;
         p = strstr(p + 1, "$JS.ACK.")) {
        size_t len = strcspn(p, " \r\n");
        if (len < sizeof(acks[0])) {
            memcpy(acks[count], p, len);
            acks[count][len] = '\0';
            count++;
        }
    }
    for (int i = 0; i < count; i++) {
        static const char *const bodies[] = {"+ACK", "", "-NAK", "+TERM", "+WPI"};
        uint32_t pick = rnd(8);
        if (pick < NE_ARRAY_LEN(bodies)) {
            (void)pub(c, acks[i], NULL, bodies[pick]);
        }
    }
}

/* Random publishes, removals, purges (filter, keep, seq), limits
 * (max_msgs_per_subject, max_msgs with discard old), fetches with acks,
 * naks and terms, and consumers created along the way: after every step
 * each consumer's num_pending equals the count walked through the store
 * (JS-31: exact num_pending). */
static void test_num_pending_equals_a_walk_of_the_store_JS31(void **state)
{
    (void)state;
    int c = js_client();
    expect_ok(request(c, "$JS.API.STREAM.CREATE.R",
                      "{\"name\":\"R\",\"subjects\":[\"r.*\"],\"storage\":\"memory\","
                      "\"max_msgs_per_subject\":5,\"max_msgs\":60}"),
              "\"name\":\"R\"");
    static const char *const consumers[][2] = {
        {"ALL", "{\"stream_name\":\"R\",\"config\":{\"durable_name\":\"ALL\","
                "\"ack_policy\":\"explicit\"}}"},
        {"F1", "{\"stream_name\":\"R\",\"config\":{\"durable_name\":\"F1\","
               "\"ack_policy\":\"explicit\",\"filter_subject\":\"r.1\"}}"},
        {"NEW", "{\"stream_name\":\"R\",\"config\":{\"durable_name\":\"NEW\","
                "\"ack_policy\":\"all\",\"deliver_policy\":\"new\",\"filter_subject\":\"r.2\"}}"},
    };
    for (size_t i = 0; i < NE_ARRAY_LEN(consumers); i++) {
        char subject[96];
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.CREATE.R.%s", consumers[i][0]);
        expect_ok(request(c, subject, consumers[i][1]), "\"num_pending\"");
    }
    ne_js_stream *st = stream_named("R");
    assert_non_null(st);
    static const char *const pulls[] = {"ALL", "F1", "NEW", "LPS", "SEQ"};
    uint32_t pull_count = 3;
    lcg_state = 20240611u;
    for (int op = 0; op < 1500; op++) {
        if (op == 200) {
            /* Consumers that start in the middle: the last message of
             * each subject first, and from a sequence. */
            expect_ok(request(c, "$JS.API.CONSUMER.CREATE.R.LPS",
                              "{\"stream_name\":\"R\",\"config\":{\"durable_name\":\"LPS\","
                              "\"ack_policy\":\"explicit\",\"deliver_policy\":"
                              "\"last_per_subject\",\"filter_subject\":\"r.*\"}}"),
                      "\"num_pending\"");
            char body[256];
            snprintf(body, sizeof(body),
                     "{\"stream_name\":\"R\",\"config\":{\"durable_name\":\"SEQ\","
                     "\"ack_policy\":\"explicit\",\"deliver_policy\":\"by_start_sequence\","
                     "\"opt_start_seq\":%llu}}",
                     (unsigned long long)(st->store.state.last_seq - 7));
            expect_ok(request(c, "$JS.API.CONSUMER.CREATE.R.SEQ", body), "\"num_pending\"");
            pull_count = 5;
        }
        uint32_t what = rnd(100);
        char subject[96];
        char body[128];
        if (what < 45) {
            snprintf(subject, sizeof(subject), "r.%u", rnd(6));
            (void)pub(c, subject, NULL, "x");
        } else if (what < 55 && st->store.state.last_seq > 0) {
            uint64_t first = st->store.state.first_seq, last = st->store.state.last_seq;
            uint64_t seq = first + rnd((uint32_t)(last - first + 1));
            snprintf(body, sizeof(body), "{\"seq\":%llu%s}", (unsigned long long)seq,
                     rnd(2) ? ",\"no_erase\":true" : "");
            (void)request(c, "$JS.API.STREAM.MSG.DELETE.R", body);
        } else if (what < 58) {
            snprintf(body, sizeof(body), "{\"filter\":\"r.%u\"}", rnd(6));
            expect_ok(request(c, "$JS.API.STREAM.PURGE.R", body), "\"success\":true");
        } else if (what < 60) {
            snprintf(body, sizeof(body), "{\"keep\":%u}", 1 + rnd(20));
            expect_ok(request(c, "$JS.API.STREAM.PURGE.R", body), "\"success\":true");
        } else if (what < 62) {
            snprintf(body, sizeof(body), "{\"seq\":%llu}",
                     (unsigned long long)(st->store.state.first_seq + rnd(10)));
            expect_ok(request(c, "$JS.API.STREAM.PURGE.R", body), "\"success\":true");
        } else if (what < 64) {
            snprintf(body, sizeof(body), "{\"filter\":\"r.%u\",\"keep\":%u}", rnd(6), rnd(3));
            expect_ok(request(c, "$JS.API.STREAM.PURGE.R", body), "\"success\":true");
        } else {
            snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.MSG.NEXT.R.%s",
                     pulls[rnd(pull_count)]);
            snprintf(body, sizeof(body), "{\"batch\":%u,\"no_wait\":true}", 1 + rnd(4));
            answer_some(c, request(c, subject, body));
        }
        check_pending(st, op);
    }
    assert_true(st->store.state.last_seq > 300);
    /* Deleting the stream returns every JetStream pool object. */
    expect_ok(request(c, "$JS.API.STREAM.DELETE.R", ""), "\"success\":true");
    const char *busy = NULL;
    if (ne_js_pools_in_use(&srv.js, &busy) != 0) {
        fail_msg("JetStream pool \"%s\" still in use", busy);
    }
}

/* The stream sequences in consumer c's list of delivered, unacknowledged
 * messages (walked through the pending pool as the consumer keeps it). */
static bool in_pending(const ne_js_consumer *c, uint64_t seq)
{
    const ne_pool *pool = &srv.js.pending_pool;
    uint32_t i = c->pending_head;
    for (uint32_t guard = 0; i != NE_JS_NONE && guard < NE_JS_MAX_PENDING; guard++) {
        const ne_js_pending *p =
            (const ne_js_pending *)(const void *)(pool->storage + (size_t)i * pool->object_bytes);
        if (p->sseq == seq) {
            return true;
        }
        i = p->next;
    }
    return false;
}

/* Interest and workqueue retention: a stored message is one that some
 * consumer whose filter takes it has not yet delivered, or delivered and
 * not yet acknowledged (explicit acks), or not below its ack floor (ack
 * all); on a workqueue also one no consumer's filter takes. And nothing a
 * consumer waits for an ack of is gone. (The consumers have no max_deliver:
 * nats-server 2.9.10 leaves a message that reached it in the stream.) */
static void check_retention(const ne_js_stream *st, int op)
{
    ne_js_store *store = (ne_js_store *)&st->store;
    char subject[NE_MAX_CONTROL_LINE_BYTES + 1];
    for (uint64_t seq = store->state.first_seq; seq <= store->state.last_seq; seq++) {
        ne_js_msg_info info;
        memset(&info, 0, sizeof(info));
        info.subject = subject;
        info.subject_cap = sizeof(subject);
        if (store->ops->info(store, seq, &info) != NE_OK) {
            continue;
        }
        bool taken = false, needed = false;
        uint32_t guard = 0;
        for (const ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
             c = c->next) {
            ne_slice f = ne_js_text_get(&srv.js, c->cfg.filter);
            if (f.len > 0 && !ne_subject_matches(f.ptr, f.len, subject, info.subject_len)) {
                continue;
            }
            taken = true;
            if (c->cfg.ack_policy == NE_JS_ACK_EXPLICIT) {
                needed = needed || seq >= c->sseq || in_pending(c, seq);
            } else {
                needed = needed || seq > c->asflr;
            }
        }
        if (!needed && (taken || st->cfg.retention == NE_JS_RETENTION_INTEREST)) {
            fail_msg("op %d: message %llu (%.*s) is kept though no consumer needs it", op,
                     (unsigned long long)seq, (int)info.subject_len, subject);
        }
    }
    uint32_t guard = 0;
    for (const ne_js_consumer *c = st->consumers; c != NULL && guard++ < NE_JS_MAX_CONSUMERS;
         c = c->next) {
        const ne_pool *pool = &srv.js.pending_pool;
        uint32_t i = c->pending_head;
        for (uint32_t g = 0; i != NE_JS_NONE && g < NE_JS_MAX_PENDING; g++) {
            const ne_js_pending *p =
                (const ne_js_pending *)(const void *)(pool->storage +
                                                      (size_t)i * pool->object_bytes);
            ne_js_msg_info info;
            memset(&info, 0, sizeof(info));
            info.subject = subject;
            info.subject_cap = sizeof(subject);
            if (store->ops->info(store, p->sseq, &info) != NE_OK) {
                fail_msg("op %d: message %llu is gone while %s waits for its ack", op,
                         (unsigned long long)p->sseq, c->name);
            }
            i = p->next;
        }
    }
}

/* Random publishes, fetches with acks, naks and terms, and consumers
 * deleted and created again on an interest stream and on a workqueue:
 * after every step each message kept is one a consumer needs, none a
 * consumer waits for is gone, and num_pending equals a walk (JS-27). */
static void retention_run(const char *retention, const char *const (*consumers)[2], size_t count,
                          uint32_t seed)
{
    int c = js_client();
    char body[256];
    snprintf(body, sizeof(body),
             "{\"name\":\"I\",\"subjects\":[\"i.*\"],\"storage\":\"memory\","
             "\"retention\":\"%s\"}",
             retention);
    expect_ok(request(c, "$JS.API.STREAM.CREATE.I", body), "\"name\":\"I\"");
    char subject[96];
    for (size_t i = 0; i < count; i++) {
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.CREATE.I.%s", consumers[i][0]);
        expect_ok(request(c, subject, consumers[i][1]), "\"num_pending\"");
    }
    ne_js_stream *st = stream_named("I");
    assert_non_null(st);
    lcg_state = seed;
    for (int op = 0; op < 1000; op++) {
        uint32_t what = rnd(100);
        if (what < 45) {
            snprintf(subject, sizeof(subject), "i.%u", rnd(5));
            (void)pub(c, subject, NULL, "x");
        } else if (what < 48) {
            /* A consumer goes and comes back (from the start again). */
            size_t k = rnd((uint32_t)count);
            snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.DELETE.I.%s", consumers[k][0]);
            expect_ok(request(c, subject, ""), "\"success\":true");
            check_retention(st, op);
            snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.CREATE.I.%s", consumers[k][0]);
            expect_ok(request(c, subject, consumers[k][1]), "\"num_pending\"");
        } else {
            snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.MSG.NEXT.I.%s",
                     consumers[rnd((uint32_t)count)][0]);
            snprintf(body, sizeof(body), "{\"batch\":%u,\"no_wait\":true}", 1 + rnd(4));
            answer_some(c, request(c, subject, body));
        }
        check_retention(st, op);
        check_pending(st, op);
    }
    assert_true(st->store.state.last_seq > 200);
    expect_ok(request(c, "$JS.API.STREAM.DELETE.I", ""), "\"success\":true");
}

static void test_interest_retention_keeps_only_what_is_needed_JS27(void **state)
{
    (void)state;
    static const char *const consumers[][2] = {
        {"A", "{\"stream_name\":\"I\",\"config\":{\"durable_name\":\"A\","
              "\"ack_policy\":\"explicit\"}}"},
        {"B", "{\"stream_name\":\"I\",\"config\":{\"durable_name\":\"B\","
              "\"ack_policy\":\"explicit\",\"filter_subject\":\"i.1\"}}"},
        {"C", "{\"stream_name\":\"I\",\"config\":{\"durable_name\":\"C\","
              "\"ack_policy\":\"all\",\"filter_subject\":\"i.2\"}}"},
    };
    retention_run("interest", consumers, NE_ARRAY_LEN(consumers), 77u);
}

static void test_workqueue_retention_keeps_only_what_is_needed_JS27(void **state)
{
    (void)state;
    static const char *const consumers[][2] = {
        {"A", "{\"stream_name\":\"I\",\"config\":{\"durable_name\":\"A\","
              "\"ack_policy\":\"explicit\",\"filter_subject\":\"i.0\"}}"},
        {"B", "{\"stream_name\":\"I\",\"config\":{\"durable_name\":\"B\","
              "\"ack_policy\":\"explicit\",\"filter_subject\":\"i.1\"}}"},
        {"C", "{\"stream_name\":\"I\",\"config\":{\"durable_name\":\"C\","
              "\"ack_policy\":\"explicit\",\"filter_subject\":\"i.2\"}}"},
    };
    retention_run("workqueue", consumers, NE_ARRAY_LEN(consumers), 4242u);
}

/* ---- Timers on the simulated clock -------------------------------------------------------- */

static void make_stream(int c, const char *name, const char *extra)
{
    char subject[96], body[256];
    snprintf(subject, sizeof(subject), "$JS.API.STREAM.CREATE.%s", name);
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"subjects\":[\"%s.>\"],\"storage\":\"memory\"%s%s}", name, name,
             extra[0] ? "," : "", extra);
    expect_ok(request(c, subject, body), "\"created\"");
}

static void make_consumer(int c, const char *stream, const char *name, const char *config)
{
    char subject[128], body[512];
    snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.CREATE.%s.%s", stream, name);
    snprintf(body, sizeof(body), "{\"stream_name\":\"%s\",\"config\":{\"durable_name\":\"%s\",%s}}",
             stream, name, config);
    expect_ok(request(c, subject, body), "\"num_pending\"");
}

static const char *fetch_no_wait(int c, const char *stream, const char *consumer)
{
    char subject[128];
    snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.MSG.NEXT.%s.%s", stream, consumer);
    return request(c, subject, "{\"batch\":1,\"no_wait\":true}");
}

/* A message is delivered again when its ack_wait has passed, not a tick
 * before; with a backoff list each delivery waits its own interval, and
 * max_deliver ends it (JS-35). */
static void test_ack_wait_and_backoff_redeliver_on_the_clock_JS35(void **state)
{
    (void)state;
    int c = js_client();
    make_stream(c, "T", "");
    make_consumer(c, "T", "C", "\"ack_policy\":\"explicit\",\"ack_wait\":2000000000");
    make_consumer(c, "T", "B",
                  "\"ack_policy\":\"explicit\",\"max_deliver\":3,"
                  "\"backoff\":[1000000000,3000000000]");
    (void)pub(c, "T.x", NULL, "hello");
    assert_non_null(strstr(fetch_no_wait(c, "T", "C"), " $JS.ACK.T.C.1.1.1."));
    assert_non_null(strstr(fetch_no_wait(c, "T", "B"), " $JS.ACK.T.B.1.1.1."));
    advance(900);
    assert_non_null(strstr(fetch_no_wait(c, "T", "B"), "404 No Messages"));
    advance(200); /* B's first backoff (1 s) has passed */
    assert_non_null(strstr(fetch_no_wait(c, "T", "B"), " $JS.ACK.T.B.2.1.2."));
    advance(700); /* 1.8 s: C's 2 s not yet */
    assert_non_null(strstr(fetch_no_wait(c, "T", "C"), "404 No Messages"));
    advance(300);
    assert_non_null(strstr(fetch_no_wait(c, "T", "C"), " $JS.ACK.T.C.2.1.2."));
    /* B's second wait is 3 s from its second delivery (at 1.1 s). */
    advance(1800); /* 3.9 s */
    assert_non_null(strstr(fetch_no_wait(c, "T", "B"), "404 No Messages"));
    advance(300);
    assert_non_null(strstr(fetch_no_wait(c, "T", "B"), " $JS.ACK.T.B.3.1.3."));
    /* The third delivery was the last: no fourth, however long. */
    advance(10000);
    const char *last = fetch_no_wait(c, "T", "B");
    if (strstr(last, "404 No Messages") == NULL) {
        fail_msg("a fourth delivery: %.300s", last);
    }
}

/* A waiting pull request gets idle heartbeats at its interval and 408 with
 * what it did not get when it expires (JS-37b, JS-37d). */
static void test_pull_heartbeats_and_expiry_on_the_clock_JS37(void **state)
{
    (void)state;
    int c = js_client();
    make_stream(c, "P", "");
    make_consumer(c, "P", "C", "\"ack_policy\":\"explicit\"");
    const char *got = request(c, "$JS.API.CONSUMER.MSG.NEXT.P.C",
                              "{\"batch\":2,\"expires\":1000000000,\"idle_heartbeat\":300000000}");
    assert_string_equal(got, "");
    advance(200);
    assert_string_equal(take(c), "");
    advance(200);
    got = take(c);
    assert_non_null(strstr(got, "NATS/1.0 100 Idle Heartbeat\r\n"));
    assert_null(strstr(got, "408"));
    advance(700); /* 1.1 s */
    got = take(c);
    assert_non_null(strstr(got, "NATS/1.0 408 Request Timeout\r\nNats-Pending-Messages: 2\r\n"
                                "Nats-Pending-Bytes: 0\r\n"));
    assert_int_equal(srv.js.pull_pool.in_use, 0);
}

/* A push consumer without messages sends idle heartbeats to its deliver
 * subject at its interval (JS-40). */
static void test_push_heartbeats_on_the_clock_JS40(void **state)
{
    (void)state;
    int c = js_client();
    send_text(c, "SUB dl.x 2\r\n");
    make_stream(c, "H", "");
    make_consumer(c, "H", "C",
                  "\"ack_policy\":\"explicit\",\"deliver_subject\":\"dl.x\","
                  "\"idle_heartbeat\":1000000000");
    advance(800);
    assert_null(strstr(take(c), "Idle Heartbeat"));
    advance(300);
    const char *got = take(c);
    assert_non_null(strstr(got, "HMSG dl.x 2 "));
    assert_non_null(strstr(got, "NATS/1.0 100 Idle Heartbeat\r\n"));
}

/* An ephemeral pull consumer nobody asks is removed after its
 * inactive_threshold, and its pool places return (JS-29). */
static void test_inactive_ephemeral_goes_on_the_clock(void **state)
{
    (void)state;
    int c = js_client();
    make_stream(c, "E", "");
    expect_ok(request(c, "$JS.API.CONSUMER.CREATE.E",
                      "{\"stream_name\":\"E\",\"config\":{\"ack_policy\":\"explicit\","
                      "\"inactive_threshold\":1000000000}}"),
              "\"num_pending\"");
    ne_js_stream *st = stream_named("E");
    assert_non_null(st);
    assert_int_equal(st->consumer_count, 1);
    advance(800);
    assert_int_equal(st->consumer_count, 1);
    advance(400);
    assert_int_equal(st->consumer_count, 0);
    assert_int_equal(srv.js.consumer_pool.in_use, 0);
}

/* A message id is a duplicate within the stream's duplicate_window and new
 * again after it (JS-18). */
static void test_duplicate_window_on_the_clock_JS18(void **state)
{
    (void)state;
    int c = js_client();
    make_stream(c, "D", "\"duplicate_window\":1000000000");
    const char *got = hpub(c, "D.x", "in.d1", "Nats-Msg-Id: a", "1");
    assert_non_null(strstr(got, "\"seq\":1"));
    assert_null(strstr(got, "duplicate"));
    advance(500);
    got = hpub(c, "D.x", "in.d2", "Nats-Msg-Id: a", "2");
    assert_non_null(strstr(got, "\"seq\":1"));
    assert_non_null(strstr(got, "\"duplicate\": true"));
    advance(600);
    got = hpub(c, "D.x", "in.d3", "Nats-Msg-Id: a", "3");
    assert_non_null(strstr(got, "\"seq\":2"));
    assert_null(strstr(got, "duplicate"));
    assert_int_equal(srv.js.msgid_pool.in_use, 1);
}

/* Found by fuzz_js_ack: an ack (here +TERM on an ack-all consumer) naming
 * a stream sequence the consumer never delivered moved its ack floor past
 * its next sequence. It is ignored now; the consumer delivers from where it
 * was (differences.md "JetStream"). */
static void test_an_ack_for_what_was_never_delivered_is_ignored_JS34(void **state)
{
    (void)state;
    int c = js_client();
    make_stream(c, "F", "");
    make_consumer(c, "F", "L", "\"ack_policy\":\"all\"");
    make_consumer(c, "F", "X", "\"ack_policy\":\"explicit\"");
    (void)pub(c, "F.x", NULL, "one");
    (void)pub(c, "F.x", NULL, "two");
    ne_js_stream *st = stream_named("F");
    ne_js_consumer *l = ne_js_consumer_find(st, (ne_slice){"L", 1});
    ne_js_consumer *x = ne_js_consumer_find(st, (ne_slice){"X", 1});
    (void)pub(c, "$JS.ACK.F.L.1.2.2.0.0", "in.f1", "+TERM");
    (void)pub(c, "$JS.ACK.F.L.1.2.2.0.0", "in.f2", "+ACK");
    assert_int_equal(l->asflr, 0);
    assert_int_equal(l->sseq, 1);
    assert_non_null(strstr(fetch_no_wait(c, "F", "L"), " $JS.ACK.F.L.1.1.1."));
    /* Explicit: one delivered and pending, an ack of the next sequence
     * with the next delivery number is not taken either. */
    assert_non_null(strstr(fetch_no_wait(c, "F", "X"), " $JS.ACK.F.X.1.1.1."));
    (void)pub(c, "$JS.ACK.F.X.1.2.1.0.0", "in.f3", "+ACK");
    assert_int_equal(x->asflr, 0);
    assert_int_equal(x->pending_count, 1);
    (void)pub(c, "$JS.ACK.F.X.1.1.1.0.0", "in.f4", "+ACK");
    assert_int_equal(x->asflr, 1);
    assert_int_equal(x->pending_count, 0);
    assert_int_equal(x->num_pending, 1);
}

/* Found by fuzz_js_pull: an idle_heartbeat of 9223372036854775807 was
 * doubled in an int64 (UBSan: signed integer overflow). It is compared
 * without overflow now: 400, as for any heartbeat above half the expiry. */
static void test_a_huge_pull_heartbeat_is_refused_without_overflow_JS37(void **state)
{
    (void)state;
    int c = js_client();
    make_stream(c, "G", "");
    make_consumer(c, "G", "C", "\"ack_policy\":\"explicit\"");
    const char *got =
        request(c, "$JS.API.CONSUMER.MSG.NEXT.G.C",
                "{\"batch\":1,\"expires\":1000000000,\"idle_heartbeat\":9223372036854775807}");
    assert_non_null(strstr(got, "NATS/1.0 400 Bad Request - heartbeat value too large\r\n"));
}

/* ---- The forwarder ------------------------------------------------------------------ */

/* The reply prefix ("$JS.FW.<token>.") of the first forwarded message in got. */
static void forward_reply_prefix(const char *got, char *out, size_t cap)
{
    const char *p = strstr(got, "$JS.FW.");
    assert_non_null(p);
    size_t n = 7;
    while (p[n] != '.' && p[n] != '\0') {
        n++;
    }
    assert_true(p[n] == '.' && n + 2 <= cap);
    memcpy(out, p, n + 1);
    out[n + 1] = '\0';
}

static uint64_t stream_msgs(const char *name)
{
    ne_js_stream *st = stream_named(name);
    assert_non_null(st);
    return st->store.state.msgs;
}

/* natsedge's forward extension: a window of publishes with their ids, one
 * at a time at the start and after a silence until an ack comes, a message
 * removed only when its publish ack comes (an error is not one), the
 * unacknowledged published again, same ids, after NE_JS_FORWARD_ACK_WAIT_MS
 * without an ack (store-and-forward.md). */
static void test_forward_window_acks_and_retries_on_the_clock(void **state)
{
    (void)state;
    int c = js_client();
    /* The "cloud": this client, on the forwarded subjects. */
    send_text(c, "SUB site1.> 2\r\n");
    step(2);
    make_stream(c, "F", "\"forward\":{\"prefix\":\"site1\",\"window\":2}");
    pub(c, "F.a", NULL, "1");
    pub(c, "F.b", NULL, "2");
    pub(c, "F.c", NULL, "3");
    advance(200);
    const char *got = take(c);
    /* Until an ack shows the way is open: the first alone. */
    assert_non_null(strstr(got, "HMSG site1.F.a 2 $JS.FW."));
    assert_non_null(strstr(got, ":F:1\r\n\r\n1\r\n"));
    assert_null(strstr(got, "site1.F.b"));
    char prefix[32], reply[48];
    forward_reply_prefix(got, prefix, sizeof(prefix));
    assert_int_equal(stream_msgs("F"), 3);
    /* No ack for the ack wait: the first again, alone, same id. */
    advance(NE_JS_FORWARD_ACK_WAIT_MS);
    got = take(c);
    assert_non_null(strstr(got, ":F:1\r\n\r\n1\r\n"));
    assert_null(strstr(got, "site1.F.b"));
    /* Acked: removed, and the window (2) opens. */
    char seen[1024];
    snprintf(reply, sizeof(reply), "%s1", prefix);
    snprintf(seen, sizeof(seen), "%s", pub(c, reply, NULL, "{\"stream\":\"CLOUD\", \"seq\":1}"));
    advance(200);
    strncat(seen, take(c), sizeof(seen) - strlen(seen) - 1);
    assert_int_equal(stream_msgs("F"), 2);
    assert_non_null(strstr(seen, ":F:2\r\n\r\n2\r\n"));
    assert_non_null(strstr(seen, ":F:3\r\n\r\n3\r\n"));
    /* No ack for the ack wait: 2 again, alone (3 waits for an ack). */
    advance(NE_JS_FORWARD_ACK_WAIT_MS);
    got = take(c);
    assert_non_null(strstr(got, ":F:2\r\n\r\n2\r\n"));
    assert_null(strstr(got, "site1.F.c"));
    /* 3's ack of its first publish: removed; the window still starts at 2. */
    snprintf(reply, sizeof(reply), "%s3", prefix);
    assert_null(strstr(pub(c, reply, NULL, "{\"stream\":\"CLOUD\", \"seq\":3}"), "site1.F."));
    advance(100);
    assert_int_equal(stream_msgs("F"), 1);
    assert_null(strstr(take(c), "site1.F."));
    /* An error is not an ack. */
    snprintf(reply, sizeof(reply), "%s2", prefix);
    got = pub(c, reply, NULL,
              "{\"error\":{\"code\":503,\"err_code\":10077,\"description\":\"x\"},"
              "\"stream\":\"CLOUD\"}");
    advance(100);
    assert_int_equal(stream_msgs("F"), 1);
    /* A duplicate ack counts: the cloud has it. */
    pub(c, reply, NULL, "{\"stream\":\"CLOUD\", \"seq\":2,\"duplicate\": true}");
    advance(100);
    assert_int_equal(stream_msgs("F"), 0);
    /* Nothing outstanding: nothing more is published. */
    take(c);
    advance(NE_JS_FORWARD_ACK_WAIT_MS + 200);
    assert_null(strstr(take(c), "HMSG site1."));
}

/* A probe that reached no one (no link yet, or the cloud's interest not
 * across it) goes again at the next tick: the first message reaches the
 * cloud within NE_JS_FORWARD_REPROBE_MS of its interest, not after the
 * ack wait (it waited NE_JS_FORWARD_ACK_WAIT_MS before). */
static void test_forward_probes_again_soon_when_no_one_heard_it(void **state)
{
    (void)state;
    int c = js_client();
    make_stream(c, "F", "\"forward\":{\"prefix\":\"site1\",\"window\":2}");
    pub(c, "F.a", NULL, "1");
    advance(500);
    assert_null(strstr(take(c), "HMSG site1."));
    /* The "cloud" arrives. */
    send_text(c, "SUB site1.> 2\r\n");
    step(2);
    advance(2 * NE_JS_FORWARD_REPROBE_MS);
    const char *got = take(c);
    assert_non_null(strstr(got, "HMSG site1.F.a 2 $JS.FW."));
    assert_non_null(strstr(got, ":F:1\r\n\r\n1\r\n"));
    /* Heard: no more probes of it until the ack wait passes. */
    advance(NE_JS_FORWARD_ACK_WAIT_MS / 2);
    assert_null(strstr(take(c), "HMSG site1."));
    assert_int_equal(stream_msgs("F"), 1);
}

/* A message published with its own Nats-Msg-Id is forwarded with the
 * forwarder's id first: nats-server deduplicates on the first, so the
 * cloud never drops a message because its publisher's id (unique only for
 * the edge stream's duplicate window) came before; the publisher's id
 * follows. */
static void test_forward_puts_its_id_before_the_publishers(void **state)
{
    (void)state;
    int c = js_client();
    send_text(c, "SUB site1.> 2\r\n");
    step(2);
    make_stream(c, "I", "\"forward\":{\"prefix\":\"site1\",\"window\":4}");
    char got[1024];
    snprintf(got, sizeof(got), "%s", hpub(c, "I.a", "in.p", "Nats-Msg-Id: dev-1", "1"));
    advance(200);
    strncat(got, take(c), sizeof(got) - strlen(got) - 1);
    const char *at = strstr(got, "HMSG site1.I.a 2 $JS.FW.");
    assert_non_null(at);
    const char *block = strstr(at, "\r\nNATS/1.0\r\n");
    assert_non_null(block);
    assert_non_null(strstr(block, ":I:1\r\nNats-Msg-Id: dev-1\r\n\r\n1\r\n"));
    static const char ours_first[] = "\r\nNATS/1.0\r\nNats-Msg-Id: ";
    assert_memory_equal(block, ours_first, sizeof(ours_first) - 1);
    static const char theirs_first[] = "\r\nNATS/1.0\r\nNats-Msg-Id: dev-1";
    assert_int_not_equal(memcmp(block, theirs_first, sizeof(theirs_first) - 1), 0);
}

/* A message the stream's limits removed before it was forwarded is
 * skipped: the forwarder goes on with the next one it still has. */
static void test_forward_skips_what_the_limits_removed(void **state)
{
    (void)state;
    int c = js_client();
    send_text(c, "SUB site1.> 2\r\n");
    step(2);
    make_stream(c, "G", "\"max_msgs\":2,\"forward\":{\"prefix\":\"site1\",\"window\":1}");
    pub(c, "G.a", NULL, "1");
    advance(200);
    char prefix[32], reply[48], seen[1024];
    const char *got = take(c);
    assert_non_null(strstr(got, ":G:1\r\n\r\n1\r\n"));
    forward_reply_prefix(got, prefix, sizeof(prefix));
    /* Three more while 1 waits for its ack: max_msgs 2 keeps 3 and 4. */
    pub(c, "G.b", NULL, "2");
    pub(c, "G.c", NULL, "3");
    pub(c, "G.d", NULL, "4");
    assert_int_equal(stream_msgs("G"), 2);
    snprintf(reply, sizeof(reply), "%s1", prefix);
    snprintf(seen, sizeof(seen), "%s", pub(c, reply, NULL, "{\"stream\":\"CLOUD\", \"seq\":1}"));
    advance(200);
    strncat(seen, take(c), sizeof(seen) - strlen(seen) - 1);
    assert_null(strstr(seen, ":G:2\r\n"));
    assert_non_null(strstr(seen, ":G:3\r\n\r\n3\r\n"));
}

typedef struct doc_sink {
    char text[1024];
    size_t len;
} doc_sink;

static int doc_append(void *ctx, const char *data, size_t len)
{
    doc_sink *d = ctx;
    if (d->len + len >= sizeof(d->text)) {
        return NE_ERR_TOO_BIG;
    }
    memcpy(d->text + d->len, data, len);
    d->len += len;
    d->text[d->len] = '\0';
    return NE_OK;
}

static doc_sink forward_sink;

/* A forwarding stream's "forward" object of /jsz, as text. */
static const char *forward_doc(const char *name)
{
    char buf[128];
    ne_json_out o;
    memset(&forward_sink, 0, sizeof(forward_sink));
    ne_json_out_init(&o, buf, sizeof(buf), doc_append, &forward_sink);
    ne_json_begin_object(&o);
    ne_js_forward_write(&srv.js, &o, stream_named(name));
    ne_json_end_object(&o);
    assert_int_equal(ne_json_out_finish(&o), NE_OK);
    return forward_sink.text;
}

/* The backlog advisory: once as the backlog reaches backlog_advisory
 * percent of the stream's limit, again only after it fell below; the
 * refusals of a full discard-new stream counted in /jsz's forward object
 * (the link is down: nothing acknowledges). */
static void test_forward_backlog_advisory_and_refusals(void **state)
{
    (void)state;
    int c = js_client();
    send_text(c, "SUB $JS.EVENT.ADVISORY.STREAM.FORWARD_BACKLOG.> 3\r\n");
    step(2);
    make_stream(c, "B",
                "\"max_msgs\":5,\"discard\":\"new\","
                "\"forward\":{\"prefix\":\"site1\",\"window\":8,\"backlog_advisory\":60}");
    pub(c, "B.a", NULL, "1");
    pub(c, "B.a", NULL, "2");
    advance(200);
    assert_null(strstr(take(c), "FORWARD_BACKLOG"));
    /* 3 of 5: 60 %. */
    pub(c, "B.a", NULL, "3");
    advance(200);
    const char *got = take(c);
    assert_non_null(strstr(got, "$JS.EVENT.ADVISORY.STREAM.FORWARD_BACKLOG.B 3"));
    assert_non_null(
        strstr(got, "\"type\":\"io.natsedge.jetstream.advisory.v1.stream_forward_backlog\""));
    assert_non_null(strstr(got, "\"backlog_msgs\":3,"));
    assert_non_null(strstr(got, "\"backlog_percent\":60,\"threshold_percent\":60,"));
    /* Once: not again while it stays above, nor for the refusals. */
    pub(c, "B.a", NULL, "4");
    advance(200);
    assert_null(strstr(take(c), "FORWARD_BACKLOG"));
    pub(c, "B.a", NULL, "5");
    got = request(c, "B.a", "6");
    assert_non_null(strstr(got, "maximum messages exceeded"));
    advance(200);
    assert_null(strstr(take(c), "FORWARD_BACKLOG"));
    assert_non_null(strstr(forward_doc("B"), "\"skipped\":0,\"refused\":1,\"advisories\":1,"));
}

/* The forward configuration: written back, limits retention only, a
 * window of 1..NE_JS_FORWARD_MAX_WINDOW, a backlog advisory of 0..100 %
 * (80 unless given), not changed by an update. */
static void test_forward_configuration_is_checked(void **state)
{
    (void)state;
    int c = js_client();
    const char *got = request(c, "$JS.API.STREAM.CREATE.W",
                              "{\"name\":\"W\",\"subjects\":[\"W.>\"],\"storage\":\"memory\","
                              "\"retention\":\"workqueue\",\"forward\":{}}");
    assert_non_null(strstr(got, "forward needs the limits retention policy"));
    got = request(c, "$JS.API.STREAM.CREATE.W",
                  "{\"name\":\"W\",\"subjects\":[\"W.>\"],\"storage\":\"memory\","
                  "\"forward\":{\"window\":0}}");
    assert_non_null(strstr(got, "forward window must be 1 to"));
    got = request(c, "$JS.API.STREAM.CREATE.W",
                  "{\"name\":\"W\",\"subjects\":[\"W.>\"],\"storage\":\"memory\","
                  "\"forward\":{\"backlog_advisory\":101}}");
    assert_non_null(strstr(got, "forward backlog_advisory must be a percent"));
    make_stream(c, "V", "\"forward\":{}");
    got = request(c, "$JS.API.STREAM.INFO.V", "");
    assert_non_null(strstr(got, "\"forward\":{\"window\":64,\"backlog_advisory\":80}"));
    got = request(c, "$JS.API.STREAM.UPDATE.V",
                  "{\"name\":\"V\",\"subjects\":[\"V.>\"],\"storage\":\"memory\"}");
    assert_non_null(strstr(got, "can not change forward"));
}

/* ---- Text slots ------------------------------------------------------------------------ */

/* A stream create with a name and one subject; what came back. */
static const char *create_named(int c, const char *name, const char *subject)
{
    char api[NE_JS_NAME_BYTES + 64], body[NE_JS_NAME_BYTES + 256];
    snprintf(api, sizeof(api), "$JS.API.STREAM.CREATE.%s", name);
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"subjects\":[\"%s\"],\"storage\":\"memory\"}",
             name, subject);
    return request(c, api, body);
}

/* The last 4 characters of a long name: a number of 4 digits. */
static void tag_name(char *name, int n)
{
    char tag[16];
    snprintf(tag, sizeof(tag), "%04d", n % 10000);
    memcpy(name + NE_JS_MAX_NAME_LEN - 4, tag, 4);
}

/* A stream's name and subjects (names up to 255 characters, JS-01) take
 * text slots by their length: at most NE_JS_SHORT_TEXT_BYTES - 2 bytes a
 * short slot, up to NE_JS_TEXT_BYTES - 1 a text slot, a longer name a long
 * name slot. With every long name slot taken (at the limit), the next long
 * name (limit + 1) gets 10023 "insufficient resources" while short names
 * go on, and a deleted stream's slot serves the next one. */
static void test_stream_names_take_slots_by_length_long_names_run_out_cleanly_JS01(void **state)
{
    (void)state;
    int c = js_client();
    expect_ok(create_named(c, "SHORT", "short.>"), "\"did_create\":true");
    assert_int_equal(srv.js.short_text_pool.in_use, 2);
    assert_int_equal(srv.js.text_pool.in_use, 0);
    assert_int_equal(srv.js.long_name_pool.in_use, 0);
    char mid[64];
    memset(mid, 'M', 40);
    mid[40] = '\0';
    expect_ok(create_named(c, mid, "mid.>"), "\"did_create\":true");
    assert_int_equal(srv.js.short_text_pool.in_use, 3);
    assert_int_equal(srv.js.text_pool.in_use, 1);
    char name[NE_JS_MAX_NAME_LEN + 1];
    char subject[32];
    memset(name, 'L', NE_JS_MAX_NAME_LEN);
    name[NE_JS_MAX_NAME_LEN] = '\0';
    for (int i = 0; i < NE_JS_LONG_NAME_SLOTS; i++) {
        tag_name(name, i);
        snprintf(subject, sizeof(subject), "long.%d", i);
        expect_ok(create_named(c, name, subject), "\"did_create\":true");
        ne_js_stream *st = stream_named(name);
        assert_non_null(st);
        assert_string_equal(ne_js_stream_name(&srv.js, st), name);
    }
    assert_int_equal(srv.js.long_name_pool.in_use, NE_JS_LONG_NAME_SLOTS);
    tag_name(name, 9999);
    const char *got = create_named(c, name, "long.more");
    assert_non_null(strstr(got, "\"err_code\":10023"));
    assert_null(stream_named(name));
    expect_ok(create_named(c, "AFTER", "after.>"), "\"did_create\":true");
    expect_ok(pub(c, "long.0", "in.x", "kept"), "\"seq\":1");
    /* The first long name goes: its slot serves the one refused. */
    char api[NE_JS_NAME_BYTES + 64];
    tag_name(name, 0);
    snprintf(api, sizeof(api), "$JS.API.STREAM.DELETE.%s", name);
    expect_ok(request(c, api, ""), "\"success\":true");
    tag_name(name, 9999);
    expect_ok(create_named(c, name, "long.more"), "\"did_create\":true");
    assert_int_equal(srv.js.long_name_pool.in_use, NE_JS_LONG_NAME_SLOTS);
}

/* What an empty stream holds (docs/jetstream.md "Memory", docs/performance.md
 * "RAM per stream"), on a 64-bit host with the default knobs: the stream
 * 280 B, its name and subject in short slots of 32 B, a file stream's
 * front end 256 B (its ne_store 208 B), none of them with padding to
 * spare. A field added to any of them shows here first. */
static void test_an_empty_stream_holds_what_the_docs_say(void **state)
{
    (void)state;
#if UINTPTR_MAX == UINT64_MAX
    assert_true(sizeof(ne_js_stream_cfg) <= 136);
    assert_true(sizeof(ne_js_stream) <= 280);
    assert_true(sizeof(ne_js_store) <= 88);
    assert_true(sizeof(ne_store) <= 208);
    assert_true(sizeof(ne_js_file_stream) <= 256);
    assert_int_equal(NE_POOL_OBJECT_BYTES(sizeof(ne_js_short_text)), NE_JS_SHORT_TEXT_BYTES);
    assert_int_equal(NE_JS_SHORT_TEXT_BYTES, 32);
#else
    skip();
#endif
}

/* ---- Mirrors and sources ------------------------------------------------------------- */

/* The mirror and sources configuration (JS-26b): mirror and sources
 * together 10031, a mirror with subjects 10034, a mirror changed by an
 * update 10055, a stream that mirrors or sources itself 10052 "detected
 * cycle"; an origin on this server that is not there yet is waited for. */
static void test_mirror_and_sources_configuration_is_checked_JS26b(void **state)
{
    (void)state;
    int c = js_client();
    const char *got =
        request(c, "$JS.API.STREAM.CREATE.L",
                "{\"name\":\"L\",\"storage\":\"memory\",\"mirror\":{\"name\":\"L\"}}");
    assert_non_null(
        strstr(got, "{\"code\":500,\"err_code\":10052,\"description\":\"detected cycle\"}"));
    got = request(c, "$JS.API.STREAM.CREATE.L",
                  "{\"name\":\"L\",\"storage\":\"memory\",\"sources\":[{\"name\":\"O\"},{"
                  "\"name\":\"L\"}]}");
    assert_non_null(strstr(got, "detected cycle"));
    expect_ok(request(c, "$JS.API.STREAM.CREATE.K",
                      "{\"name\":\"K\",\"storage\":\"memory\",\"mirror\":{\"name\":\"O\"}}"),
              "\"mirror\":{\"name\":\"O\"}");
    got = request(c, "$JS.API.STREAM.CREATE.L",
                  "{\"name\":\"L\",\"storage\":\"memory\",\"mirror\":{\"name\":\"O\","
                  "\"external\":{\"api\":\"$JS.h.API\"}},\"sources\":[{\"name\":\"P\"}]}");
    assert_non_null(strstr(got, "\"err_code\":10031"));
    got = request(c, "$JS.API.STREAM.CREATE.L",
                  "{\"name\":\"L\",\"subjects\":[\"l.>\"],\"storage\":\"memory\",\"mirror\":{"
                  "\"name\":\"O\",\"external\":{\"api\":\"$JS.h.API\"}}}");
    assert_non_null(strstr(got, "\"err_code\":10034"));
    expect_ok(request(c, "$JS.API.STREAM.CREATE.L",
                      "{\"name\":\"L\",\"storage\":\"memory\",\"mirror\":{\"name\":\"O\","
                      "\"external\":{\"api\":\"$JS.h.API\"}}}"),
              "\"created\"");
    got = request(c, "$JS.API.STREAM.UPDATE.L",
                  "{\"name\":\"L\",\"storage\":\"memory\",\"mirror\":{\"name\":\"Q\","
                  "\"external\":{\"api\":\"$JS.h.API\"}}}");
    assert_non_null(strstr(got, "\"err_code\":10055"));
    expect_ok(
        request(c, "$JS.API.STREAM.CREATE.S",
                "{\"name\":\"S\",\"storage\":\"memory\",\"sources\":[{\"name\":\"O\","
                "\"filter_subject\":\"o.x\",\"external\":{\"api\":\"$JS.h.API\","
                "\"deliver\":\"d.h\"}},{\"name\":\"P\",\"external\":{\"api\":\"$JS.h.API\"}}]}"),
        "\"sources\":[{\"name\":\"O\",\"filter_subject\":\"o.x\",\"external\":{\"api\":"
        "\"$JS.h.API\",\"deliver\":\"d.h\"}},{\"name\":\"P\"");
}

/* A stream with a mirror or sources holds a set of source configurations
 * (NE_JS_SOURCED_STREAMS) and the configuration being parsed takes one
 * too; by default there is one set more than links (NE_JS_MAX_SOURCE_LINKS):
 * every stream the links allow gets its set and can still be updated,
 * and the next sourced stream is refused by the links (10023), its parsed
 * set given back. */
static void test_every_stream_the_source_links_allow_has_a_source_set_JS26b(void **state)
{
    (void)state;
    int c = js_client();
    make_stream(c, "O", "");
    char api[64], body[256];
    for (int i = 0; i < NE_JS_MAX_SOURCE_LINKS; i++) {
        snprintf(api, sizeof(api), "$JS.API.STREAM.CREATE.S%d", i);
        snprintf(body, sizeof(body),
                 "{\"name\":\"S%d\",\"sources\":[{\"name\":\"O\"}],\"storage\":\"memory\"}", i);
        expect_ok(request(c, api, body), "\"did_create\":true");
    }
    assert_int_equal(srv.js.source_set_pool.in_use, NE_JS_MAX_SOURCE_LINKS);
    expect_ok(request(c, "$JS.API.STREAM.UPDATE.S0",
                      "{\"name\":\"S0\",\"sources\":[{\"name\":\"O\"}],\"storage\":\"memory\","
                      "\"max_msgs\":10}"),
              "\"max_msgs\":10");
    assert_int_equal(srv.js.source_set_pool.in_use, NE_JS_MAX_SOURCE_LINKS);
    const char *got =
        request(c, "$JS.API.STREAM.CREATE.MORE",
                "{\"name\":\"MORE\",\"mirror\":{\"name\":\"O\"},\"storage\":\"memory\"}");
    assert_non_null(strstr(got, "\"err_code\":10023"));
    assert_int_equal(srv.js.source_set_pool.in_use, NE_JS_MAX_SOURCE_LINKS);
    expect_ok(request(c, "$JS.API.STREAM.DELETE.S3", ""), "\"success\":true");
    assert_int_equal(srv.js.source_set_pool.in_use, NE_JS_MAX_SOURCE_LINKS - 1);
    expect_ok(request(c, "$JS.API.STREAM.CREATE.MORE",
                      "{\"name\":\"MORE\",\"mirror\":{\"name\":\"O\"},\"storage\":\"memory\"}"),
              "\"did_create\":true");
}

/* A mirror and a source of a stream of this server (JS-26b): the link's
 * consumer is created on the origin through the API path, delivers through
 * the router to the link's subscriptions (which take the JetStream
 * client's own messages), so the copies hold the origin's messages in the
 * same turns; the mirror at the origin's sequences, the source with
 * Nats-Stream-Source. Each link has one consumer on the origin, deleted
 * with its stream. */
static void test_local_mirror_and_source_copy_the_origin_JS26b(void **state)
{
    (void)state;
    int c = js_client();
    expect_ok(request(c, "$JS.API.STREAM.CREATE.O",
                      "{\"name\":\"O\",\"subjects\":[\"o.>\"],\"storage\":\"memory\"}"),
              "\"created\"");
    pub(c, "o.a", NULL, "m1");
    pub(c, "o.b", NULL, "m2");
    expect_ok(request(c, "$JS.API.STREAM.CREATE.M",
                      "{\"name\":\"M\",\"storage\":\"memory\",\"mirror\":{\"name\":\"O\"}}"),
              "\"created\"");
    expect_ok(request(c, "$JS.API.STREAM.CREATE.S",
                      "{\"name\":\"S\",\"storage\":\"memory\",\"sources\":[{\"name\":\"O\","
                      "\"filter_subject\":\"o.a\"}]}"),
              "\"created\"");
    step(8);
    pub(c, "o.a", NULL, "m3");
    step(8);
    ne_js_stream *m = stream_named("M");
    ne_js_stream *sourced = stream_named("S");
    ne_js_stream *o = stream_named("O");
    assert_non_null(m);
    assert_non_null(sourced);
    assert_int_equal(m->store.state.msgs, 3);
    assert_int_equal(m->store.state.last_seq, 3);
    assert_int_equal(sourced->store.state.msgs, 2);
    assert_int_equal(o->consumer_count, 2);
    const char *got = request(c, "$JS.API.STREAM.MSG.GET.S", "{\"seq\":2}");
    expect_ok(got, "\"subject\":\"o.a\"");
    /* "Nats-Stream-Source: O 3" in the stored headers, base64. */
    expect_ok(got, "\"hdrs\":\"TkFUUy8xLjANCk5hdHMtU3RyZWFtLVNvdXJjZTogTyAzDQoNCg==\"");
    got = request(c, "$JS.API.STREAM.INFO.M", "");
    expect_ok(got, "\"mirror\":{\"name\":\"O\",\"lag\":0,\"active\":");
    got = request(c, "$JS.API.STREAM.INFO.S", "");
    expect_ok(got, "\"sources\":[{\"name\":\"O\",\"lag\":0,\"active\":");
    /* Flow control and heartbeats keep the links running, with no restart. */
    advance(10000);
    pub(c, "o.a", NULL, "m4");
    step(8);
    assert_int_equal(m->store.state.msgs, 4);
    assert_int_equal(sourced->store.state.msgs, 3);
    for (uint32_t i = 0; i < NE_JS_MAX_SOURCE_LINKS; i++) {
        const ne_js_source_link *link = &srv.js.sources.links[i];
        assert_true(link->state == NE_JS_SOURCE_FREE || link->restarts == 0);
    }
    expect_ok(request(c, "$JS.API.STREAM.DELETE.M", ""), "\"success\":true");
    assert_int_equal(o->consumer_count, 1);
    expect_ok(request(c, "$JS.API.STREAM.DELETE.S", ""), "\"success\":true");
    assert_int_equal(o->consumer_count, 0);
}

/* ---- Back-pressure: a congested request queue holds the input back ------------------------ */

static char flood_rx[2 * NE_SIM_BUFFER_BYTES];
static char rx_f[NE_SIM_BUFFER_BYTES];

/* Writes `count` $JS.API.INFO requests with bodies of about 8 KiB (records
 * of the same size in the request queue), answered on in.<tag><n>. */
static void write_flood(int c, char tag, int count)
{
    static const char pad[] = "                                                                ";
    for (int i = 0; i < count; i++) {
        char line[96];
        int body = 2 + 124 * 64;
        snprintf(line, sizeof(line), "PUB $JS.API.INFO in.%c%d %d\r\n{", tag, i, body);
        send_text(c, line);
        for (int k = 0; k < 124; k++) {
            assert_int_equal(ne_sim_client_write(&sim, c, pad, 64), 64);
        }
        send_text(c, "}\r\n");
    }
}

static int count_of(const char *text, const char *what)
{
    int n = 0;
    for (const char *p = strstr(text, what); p != NULL; p = strstr(p + 1, what)) {
        n++;
    }
    return n;
}

/* Several consumers' acks and pull requests arrive in one read behind more
 * API requests than JetStream's request queue holds (NE_JS_QUEUE_BYTES):
 * none is dropped, every request is answered and every pull delivers
 * (JS-34, JS-36). The queue above its mark holds the connections' input
 * back until it has drained, instead of dropping what comes beyond it. */
static void test_acks_and_pulls_beyond_the_request_queue_wait_JS34_JS36(void **state)
{
    (void)state;
    int f = js_client();
    int c = js_client();
    make_stream(c, "Q", "");
    for (int i = 0; i < 8; i++) {
        (void)pub(c, "Q.x", NULL, "m");
    }
    char acks[4][2][160];
    for (int i = 0; i < 4; i++) {
        char name[16], subject[96];
        snprintf(name, sizeof(name), "C%d", i);
        make_consumer(c, "Q", name, "\"ack_policy\":\"explicit\"");
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.MSG.NEXT.Q.%s", name);
        const char *got = request(c, subject, "{\"batch\":2,\"no_wait\":true}");
        const char *p = got;
        for (int k = 0; k < 2; k++) {
            p = strstr(p, "$JS.ACK.");
            assert_non_null(p);
            size_t len = strcspn(p, " \r\n");
            assert_true(len < sizeof(acks[i][k]));
            memcpy(acks[i][k], p, len);
            acks[i][k][len] = '\0';
            p += len;
        }
    }
    enum { FLOOD = 28 };
    assert_true(2 * FLOOD * 8192 > NE_JS_QUEUE_BYTES);
    write_flood(f, 'f', FLOOD);
    write_flood(c, 'r', FLOOD);
    for (int i = 0; i < 4; i++) {
        char line[256];
        for (int k = 0; k < 2; k++) {
            int n = snprintf(line, sizeof(line), "PUB %s 4\r\n+ACK\r\n", acks[i][k]);
            assert_true(n > 0 && (size_t)n < sizeof(line));
            send_text(c, line);
        }
        snprintf(line, sizeof(line),
                 "PUB $JS.API.CONSUMER.MSG.NEXT.Q.C%d in.p%d 26\r\n{\"batch\":2,\"no_wait\":true}"
                 "\r\n",
                 i, i);
        send_text(c, line);
    }
    size_t have_c = 0, have_f = 0;

    for (int turn = 0; turn < 400; turn++) {
        step(1);
        have_c += ne_sim_client_read(&sim, c, flood_rx + have_c, sizeof(flood_rx) - 1 - have_c);
        have_f += ne_sim_client_read(&sim, f, rx_f + have_f, sizeof(rx_f) - 1 - have_f);
    }
    flood_rx[have_c] = '\0';
    rx_f[have_f] = '\0';
    assert_int_equal(srv.js.stats.requests_dropped, 0);
    /* Both clients listen on in.>: each hears every answer. */
    assert_int_equal(count_of(flood_rx, "MSG in.r"), FLOOD);
    assert_int_equal(count_of(flood_rx, "MSG in.f"), FLOOD);
    assert_int_equal(count_of(rx_f, "MSG in.r"), FLOOD);
    assert_int_equal(count_of(rx_f, "MSG in.f"), FLOOD);
    for (int i = 0; i < 4; i++) {
        char want[64];
        snprintf(want, sizeof(want), " $JS.ACK.Q.C%d.1.4.4.", i);
        if (strstr(flood_rx, want) == NULL) {
            fail_msg("the pull of C%d delivered nothing: %.300s", i, flood_rx);
        }
        char name[16];
        snprintf(name, sizeof(name), "C%d", i);
        ne_js_consumer *con = ne_js_consumer_find(stream_named("Q"), (ne_slice){name, 2});
        assert_non_null(con);
        assert_int_equal(con->asflr, 2); /* the acks of 1 and 2 were all taken */
    }
}

/* Turns until client c reads a line containing `want` (at most `limit`). */
static int turns_until(int c, const char *want, int limit)
{
    size_t have = 0;
    for (int turn = 1; turn <= limit; turn++) {
        step(1);
        have += ne_sim_client_read(&sim, c, rx + have, sizeof(rx) - 1 - have);
        rx[have] = '\0';
        if (strstr(rx, want) != NULL) {
            return turn;
        }
    }
    return -1;
}

/* A client flooding JetStream's request queue past its mark is held back;
 * a client that sends JetStream nothing is not: its publish reaches its
 * subscriber in as many turns as with no flood at all. (Before, the whole
 * connection layer was held while the queue was above its mark.) */
static void test_a_flooder_of_the_request_queue_holds_back_only_itself(void **state)
{
    (void)state;
    int f = js_client(); /* connected first: read first in each turn */
    int p = ne_sim_connect(&sim, ne_server_client_port(&srv));
    assert_true(p >= 0);
    step(2);
    take(p);
    send_text(p, "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n"
                 "SUB plain.> 5\r\nPING\r\n");
    step(2);
    assert_non_null(strstr(take(p), "PONG\r\n"));

    send_text(p, "PUB plain.a 1\r\na\r\n");
    int quiet = turns_until(p, "MSG plain.a 5 1", 20);
    assert_true(quiet > 0);

    enum { FLOOD = 28 };
    assert_true(FLOOD * 8192 > NE_JS_QUEUE_HIGH_WATER_BYTES);
    write_flood(f, 'f', FLOOD);
    send_text(p, "PUB plain.b 1\r\nb\r\n");
    assert_int_equal(turns_until(p, "MSG plain.b 5 1", 20), quiet);

    /* The flooder itself was held, not refused: every request answered. */
    size_t have_f = 0;
    for (int turn = 0; turn < 100 && count_of(rx_f, "MSG in.f") < FLOOD; turn++) {
        step(1);
        have_f += ne_sim_client_read(&sim, f, rx_f + have_f, sizeof(rx_f) - 1 - have_f);
        rx_f[have_f] = '\0';
    }
    assert_int_equal(count_of(rx_f, "MSG in.f"), FLOOD);
    assert_int_equal(srv.js.stats.requests_dropped, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_acks_and_pulls_beyond_the_request_queue_wait_JS34_JS36,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_flooder_of_the_request_queue_holds_back_only_itself,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_num_pending_equals_a_walk_of_the_store_JS31, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_interest_retention_keeps_only_what_is_needed_JS27,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_workqueue_retention_keeps_only_what_is_needed_JS27,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ack_wait_and_backoff_redeliver_on_the_clock_JS35,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_pull_heartbeats_and_expiry_on_the_clock_JS37, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_push_heartbeats_on_the_clock_JS40, setup, teardown),
        cmocka_unit_test_setup_teardown(test_inactive_ephemeral_goes_on_the_clock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_window_on_the_clock_JS18, setup, teardown),
        cmocka_unit_test_setup_teardown(test_an_ack_for_what_was_never_delivered_is_ignored_JS34,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_huge_pull_heartbeat_is_refused_without_overflow_JS37,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_forward_probes_again_soon_when_no_one_heard_it, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_window_acks_and_retries_on_the_clock, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_puts_its_id_before_the_publishers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_skips_what_the_limits_removed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_backlog_advisory_and_refusals, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_forward_configuration_is_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_mirror_and_source_copy_the_origin_JS26b, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_stream_names_take_slots_by_length_long_names_run_out_cleanly_JS01, setup,
            teardown),
        cmocka_unit_test(test_an_empty_stream_holds_what_the_docs_say),
        cmocka_unit_test_setup_teardown(
            test_every_stream_the_source_links_allow_has_a_source_set_JS26b, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mirror_and_sources_configuration_is_checked_JS26b,
                                        setup, teardown),
    };
    return cmocka_run_group_tests_name("js", tests, NULL, NULL);
}
