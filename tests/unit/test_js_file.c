/* JetStream's file storage (src/js/ne_js_file.c) on port/sim: a server whose
 * device is a simulated flash, started again on the same flash: streams,
 * durable consumers and their state come back; a consumer's state log keeps
 * one state, not one per change; jetstream { sync_interval } (the device
 * behind a write cache, as a file under the page cache): "always" syncs
 * before every ack, an interval writes before the ack and syncs on time;
 * and after a shutdown every pool is idle. IDs refer to
 * shared/reference/nats-inventory.md. */
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
#include "sim/ne_sim_flash.h"
#include "sim/ne_sim_net.h"

#define ERASE_BYTES (64u * 1024u)
#define BLOCKS 32u

static ne_server srv;
static ne_sim_net sim;
static ne_sim_flash flash;
static uint8_t image[(size_t)ERASE_BYTES * BLOCKS];
static uint32_t erase_counts[BLOCKS];
static bool formatted;
static char rx[NE_SIM_BUFFER_BYTES + 1];
static int client;
static int reply_n;
static uint32_t sync_interval_ms; /* the next boot's jetstream { sync_interval } */
static uint8_t durable[(size_t)ERASE_BYTES * BLOCKS];
static uint8_t dirty[NE_SIM_FLASH_DIRTY_BYTES(BLOCKS, ERASE_BYTES, 512u)];

static int sim_open(void *ctx, const char *dir, ne_flash_geometry geometry, bool create,
                    ne_flash *out)
{
    (void)ctx;
    (void)dir;
    (void)geometry;
    if (!formatted && !create) {
        return NE_ERR_NOT_FOUND;
    }
    formatted = true;
    *out = flash.flash;
    return NE_OK;
}

static void sim_close(void *ctx)
{
    (void)ctx;
}

static void step(int n)
{
    ne_loop loop;
    ne_server_loop(&srv, &loop);
    for (int i = 0; i < n; i++) {
        ne_sim_net_step(&sim, &loop);
    }
}

static const char *take(void)
{
    size_t n = ne_sim_client_read(&sim, client, rx, sizeof(rx) - 1);
    rx[n] = '\0';
    return rx;
}

static void send_text(const char *text)
{
    size_t len = strlen(text);
    assert_int_equal(ne_sim_client_write(&sim, client, text, len), len);
}

static const char *request(const char *subject, const char *body)
{
    char line[256];
    snprintf(line, sizeof(line), "PUB %s in.%d %zu\r\n", subject, ++reply_n, strlen(body));
    send_text(line);
    send_text(body);
    send_text("\r\n");
    step(4);
    return take();
}

static void expect_ok(const char *got)
{
    if (strstr(got, "\"error\"") != NULL) {
        fail_msg("error: %.300s", got);
    }
}

static void boot(void)
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.js.enabled = true;
    opts.js.sync_interval_ms = sync_interval_ms;
    snprintf(opts.js.domain, sizeof(opts.js.domain), "edge");
    opts.leaf.listen_enabled = true; /* the other domain's JetStream, for sources */
    opts.leaf.listen_port = 0;
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    ne_js_device_port port = {sim_open, sim_close, NULL};
    ne_js_set_device(&srv.js, &port);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    client = ne_sim_connect(&sim, ne_server_client_port(&srv));
    assert_true(client >= 0);
    step(2);
    take();
    send_text("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
              "\"no_responders\":true,\"protocol\":1}\r\nSUB in.> 1\r\nPING\r\n");
    step(2);
    assert_non_null(strstr(take(), "PONG\r\n"));
}

static void halt(void)
{
    ne_server_shutdown(&srv);
    const char *busy = NULL;
    if (ne_server_pools_in_use(&srv, &busy) != 0) {
        fail_msg("pool \"%s\" not back to idle", busy);
    }
}

static int setup(void **state)
{
    (void)state;
    ne_flash_geometry g = {64, ERASE_BYTES, BLOCKS};
    ne_sim_flash_init(&flash, g, image, erase_counts, NULL, 1);
    formatted = false;
    reply_n = 0;
    sync_interval_ms = 0;
    boot();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    halt();
    return 0;
}

static ne_js_stream *stream_named(const char *name)
{
    return ne_js_stream_find(&srv.js.accounts[0], (ne_slice){name, (uint32_t)strlen(name)});
}

/* Takes one message of S's consumer C and double-acks it; its stream seq. */
static uint64_t consume_one(void)
{
    const char *got = request("$JS.API.CONSUMER.MSG.NEXT.S.C", "{\"batch\":1,\"no_wait\":true}");
    const char *ack = strstr(got, "$JS.ACK.S.C.");
    assert_non_null(ack);
    char subject[160];
    size_t n = 0;
    while (ack[n] != ' ' && ack[n] != '\r' && n + 1 < sizeof(subject)) {
        subject[n] = ack[n];
        n++;
    }
    subject[n] = '\0';
    unsigned long long dc = 0, sseq = 0;
    assert_int_equal(sscanf(subject, "$JS.ACK.S.C.%llu.%llu.", &dc, &sseq), 2);
    char line[224];
    snprintf(line, sizeof(line), "PUB %s in.%d 4\r\n+ACK\r\n", subject, ++reply_n);
    send_text(line);
    step(4);
    char expect[48];
    snprintf(expect, sizeof(expect), "MSG in.%d 1 0\r\n", reply_n);
    assert_non_null(strstr(take(), expect));
    return sseq;
}

static void create_s_and_c(void)
{
    expect_ok(request("$JS.API.STREAM.CREATE.S",
                      "{\"name\":\"S\",\"subjects\":[\"s.>\"],\"storage\":\"file\"}"));
    expect_ok(request("$JS.API.CONSUMER.DURABLE.CREATE.S.C",
                      "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"C\","
                      "\"ack_policy\":\"explicit\"}}"));
}

/* A stream, its durable consumer's ack floor and pending messages come
 * back after the server starts again on the same flash (JS-17, JS-33). */
static void test_streams_and_consumers_come_back_JS17(void **state)
{
    (void)state;
    create_s_and_c();
    for (int i = 0; i < 10; i++) {
        expect_ok(request("s.a", "hello"));
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(consume_one(), (uint64_t)i + 1);
    }
    /* 5 and 6 delivered, not acked. */
    expect_ok(request("$JS.API.CONSUMER.MSG.NEXT.S.C", "{\"batch\":2,\"no_wait\":true}"));
    halt();
    boot();
    ne_js_stream *st = stream_named("S");
    assert_non_null(st);
    assert_int_equal(st->cfg.storage, NE_JS_STORAGE_FILE);
    assert_int_equal(st->store.state.msgs, 10);
    assert_int_equal(st->store.state.last_seq, 10);
    ne_js_consumer *c = ne_js_consumer_find(st, (ne_slice){"C", 1});
    assert_non_null(c);
    assert_int_equal(c->asflr, 4);
    assert_int_equal(c->adflr, 4);
    assert_int_equal(c->sseq, 7);
    assert_int_equal(c->dseq, 6);
    assert_int_equal(c->pending_count, 2);
    assert_int_equal(c->num_pending, 4);
    /* Publishing goes on after the last sequence. */
    const char *got = request("s.b", "more");
    assert_non_null(strstr(got, "\"seq\":11"));
}

static const ne_js_file_consumer *file_consumer_of(const char *stream, const char *name)
{
    ne_js_consumer *c =
        ne_js_consumer_find(stream_named(stream), (ne_slice){name, (uint32_t)strlen(name)});
    assert_non_null(c);
    uint16_t f = srv.js.file.consumer_file[c->slot];
    assert_true(f > 0);
    return (const ne_js_file_consumer *)(const void *)(srv.js.file.consumers.storage +
                                                       (size_t)(f - 1u) *
                                                           srv.js.file.consumers.object_bytes);
}

/* A durable consumer's state log stays short: the turns' changes, then a
 * snapshot of the whole state once they outnumber max(64, twice the
 * pending entries), after which the older records leave; after many acks
 * it holds at most that many records, not one per change (it would fill
 * the device). */
static void test_consumer_state_log_stays_small(void **state)
{
    (void)state;
    create_s_and_c();
    uint64_t most = 0;
    for (int i = 0; i < 300; i++) {
        expect_ok(request("s.a", "x"));
        assert_int_equal(consume_one(), (uint64_t)i + 1);
        const ne_js_file_consumer *fc = file_consumer_of("S", "C");
        most = fc->sc.log.state.msgs > most ? fc->sc.log.state.msgs : most;
        if (fc->sc.log.state.msgs > 66) {
            fail_msg("after %d acks the consumer's log holds %llu records", i + 1,
                     (unsigned long long)fc->sc.log.state.msgs);
        }
    }
    assert_true(most > 4); /* changes are records of their own */
}

/* What an ack costs on the device does not grow with the messages pending
 * (JS-34): with 100 delivered and not acknowledged, each +ACK writes its
 * change (about 64 B with its frame), not the whole state of 32 B per
 * pending message (3.2 KB). Regression: every turn's ack rewrote the
 * consumer's whole state. */
static void test_consumer_ack_writes_the_change_not_the_state_JS34(void **state)
{
    (void)state;
    create_s_and_c();
    for (int i = 0; i < 100; i++) {
        expect_ok(request("s.a", "x"));
    }
    const char *got = request("$JS.API.CONSUMER.MSG.NEXT.S.C", "{\"batch\":100,\"no_wait\":true}");
    assert_non_null(strstr(got, "$JS.ACK.S.C.1.100."));
    for (uint64_t seq = 1; seq <= 20; seq++) {
        uint64_t before = flash.program_bytes;
        char line[224];
        snprintf(line, sizeof(line), "PUB $JS.ACK.S.C.1.%llu.%llu.0.0 in.%d 4\r\n+ACK\r\n",
                 (unsigned long long)seq, (unsigned long long)seq, ++reply_n);
        send_text(line);
        step(4);
        char expect[48];
        snprintf(expect, sizeof(expect), "MSG in.%d 1 0\r\n", reply_n);
        assert_non_null(strstr(take(), expect));
        uint64_t written = flash.program_bytes - before;
        if (written > 512) {
            fail_msg("ack %llu wrote %llu bytes", (unsigned long long)seq,
                     (unsigned long long)written);
        }
    }
    const ne_js_file_consumer *fc = file_consumer_of("S", "C");
    assert_int_equal(fc->sc.pending_count, 80);
    assert_int_equal(fc->sc.ack_floor.stream_seq, 20);
    halt();
    boot();
    ne_js_consumer *c = ne_js_consumer_find(stream_named("S"), (ne_slice){"C", 1});
    assert_non_null(c);
    assert_int_equal(c->asflr, 20);
    assert_int_equal(c->pending_count, 80);
}

/* Deleting a stream and a consumer removes their logs: they do not come
 * back (JS-07, JS-30). */
static void test_deleted_stay_deleted(void **state)
{
    (void)state;
    create_s_and_c();
    expect_ok(request("$JS.API.CONSUMER.DELETE.S.C", ""));
    expect_ok(request("$JS.API.STREAM.CREATE.T",
                      "{\"name\":\"T\",\"subjects\":[\"t.>\"],\"storage\":\"file\"}"));
    expect_ok(request("$JS.API.STREAM.DELETE.T", ""));
    halt();
    boot();
    assert_non_null(stream_named("S"));
    assert_null(stream_named("T"));
    assert_null(ne_js_consumer_find(stream_named("S"), (ne_slice){"C", 1}));
}

static const ne_store *file_store_of(const char *name)
{
    const ne_js_stream *st = stream_named(name);
    assert_non_null(st);
    const ne_js_file_stream *fs =
        (const ne_js_file_stream *)(const void *)(srv.js.file.streams.storage +
                                                  (size_t)st->store.impl.file.index *
                                                      srv.js.file.streams.object_bytes);
    return &fs->store;
}

/* A file stream's subject index comes from the shared tables: none while
 * it is empty, one of the smallest class at its first message, a larger one
 * as its subjects grow, the same class again after a restart, and every
 * table back when it is deleted (JS-26 num_subjects, JS-07 subjects_filter). */
static void test_subject_index_grows_from_shared_tables_JS26(void **state)
{
    (void)state;
    expect_ok(request("$JS.API.STREAM.CREATE.S",
                      "{\"name\":\"S\",\"subjects\":[\"s.>\"],\"storage\":\"file\"}"));
    assert_int_equal(file_store_of("S")->subject_class, NE_STORE_NO_CLASS);
    assert_int_equal(ne_store_subject_pool_in_use(&srv.js.file.subjects), 0);
    expect_ok(request("s.0", "x"));
    assert_int_equal(file_store_of("S")->subject_class, 0);
    char subject[16];
    for (int i = 1; i < 100; i++) {
        snprintf(subject, sizeof(subject), "s.%d", i);
        expect_ok(request(subject, "x"));
    }
    /* 100 subjects: past class 1 (56 usable) into class 2 (224). */
    assert_int_equal(file_store_of("S")->subject_class, 2);
    assert_int_equal(ne_store_subject_pool_in_use(&srv.js.file.subjects), 1);
    const char *got = request("$JS.API.STREAM.INFO.S", "{\"subjects_filter\":\"s.9*\"}");
    assert_non_null(strstr(got, "\"num_subjects\":100"));
    halt();
    boot();
    assert_int_equal(file_store_of("S")->subject_class, 2);
    assert_int_equal(file_store_of("S")->state.num_subjects, 100);
    got = request("$JS.API.STREAM.INFO.S", "{\"subjects_filter\":\"s.*\"}");
    assert_non_null(strstr(got, "\"s.99\":1"));
    assert_non_null(strstr(got, "\"num_subjects\":100"));
    expect_ok(request("$JS.API.STREAM.DELETE.S", ""));
    assert_int_equal(ne_store_subject_pool_in_use(&srv.js.file.subjects), 0);
}

/* Time passes in ticks of 100 ms, a loop turn after each. */
static void advance(uint64_t ms)
{
    for (uint64_t done = 0; done < ms; done += 100) {
        ne_sim_clock_advance(ms - done < 100 ? ms - done : 100);
        step(2);
    }
}

/* The device behind a write cache that never writes back on its own: what
 * was not synced is lost at a power cut, what was written survives a
 * process that dies (the server started again without a shutdown). */
static int setup_cached(void **state)
{
    (void)state;
    ne_flash_geometry g = {64, ERASE_BYTES, BLOCKS};
    ne_sim_flash_init(&flash, g, image, erase_counts, NULL, 1);
    ne_sim_flash_use_cache(&flash, durable, dirty, 512u, 0, 0);
    formatted = false;
    reply_n = 0;
    sync_interval_ms = 0;
    return 0;
}

static void publish_acked(int n)
{
    for (int i = 0; i < n; i++) {
        const char *got = request("s.a", "hello");
        if (strstr(got, "\"seq\":") == NULL) {
            fail_msg("publish %d not acknowledged: %.200s", i, got);
        }
    }
}

/* The power fails at the next program, erase or sync: the publish that
 * does it is not acknowledged, and what was not synced may be lost. */
static void power_cut(void)
{
    ne_sim_flash_cut_after(&flash, 1);
    (void)request("s.a", "cut");
    assert_false(flash.powered);
    ne_sim_flash_power_on(&flash);
}

/* sync_interval "always" (the default): every acknowledged publish was
 * synced first (one sync per acknowledging turn), so all of them survive a
 * power cut (CFG: docs/jetstream.md "Durability"). */
static void test_sync_always_syncs_before_each_ack(void **state)
{
    (void)state;
    boot();
    expect_ok(request("$JS.API.STREAM.CREATE.S",
                      "{\"name\":\"S\",\"subjects\":[\"s.>\"],\"storage\":\"file\"}"));
    uint64_t before = flash.syncs;
    publish_acked(5);
    assert_true(flash.syncs >= before + 5);
    power_cut();
    boot();
    ne_js_stream *st = stream_named("S");
    assert_non_null(st);
    assert_int_equal(st->store.state.msgs, 5);
}

/* sync_interval 1s: an acknowledged publish is written to the device (the
 * OS) before its ack but not synced: a process killed then loses nothing;
 * once the interval has passed the device is synced without any traffic,
 * and from then on a power cut keeps it. */
static void test_sync_interval_writes_before_ack_and_syncs_on_time(void **state)
{
    (void)state;
    sync_interval_ms = 1000;
    boot();
    expect_ok(request("$JS.API.STREAM.CREATE.S",
                      "{\"name\":\"S\",\"subjects\":[\"s.>\"],\"storage\":\"file\"}"));
    advance(1000); /* the creation's changes synced: a clean start */
    uint64_t before = flash.syncs;
    publish_acked(5);
    assert_int_equal(flash.syncs, before); /* no sync per ack */
    /* Killed: started again without a shutdown, over what the OS holds. */
    boot();
    ne_js_stream *st = stream_named("S");
    assert_non_null(st);
    assert_int_equal(st->store.state.msgs, 5);
    /* The interval passes with no traffic: one sync, then a power cut
     * keeps all five. */
    publish_acked(2);
    before = flash.syncs;
    advance(1100);
    assert_true(flash.syncs > before);
    uint64_t synced = flash.syncs;
    advance(2000); /* nothing changed: no more syncs */
    assert_int_equal(flash.syncs, synced);
    power_cut();
    boot();
    st = stream_named("S");
    assert_non_null(st);
    assert_int_equal(st->store.state.msgs, 7);
}

/* The other domain: a leaf peer whose interest in its API reaches
 * natsedge (as in test_js_source.c). */
static int hub_peer(void)
{
    int l = ne_sim_connect(&sim, ne_server_leaf_port(&srv));
    assert_true(l >= 0);
    step(4);
    (void)ne_sim_client_read(&sim, l, rx, sizeof(rx) - 1);
    static const char hello[] = "CONNECT {\"server_id\":\"NHUB\",\"name\":\"hub\",\"headers\":"
                                "true,\"domain\":\"hub\"}\r\nLS+ $JS.hub.API.CONSUMER.>\r\n";
    assert_int_equal(ne_sim_client_write(&sim, l, hello, strlen(hello)), strlen(hello));
    step(4);
    return l;
}

static char received[NE_SIM_BUFFER_BYTES + 1];

/* Steps until the peer l has received `want` (time moving on 100 ms a
 * turn, at most 5 s): everything it received. */
static const char *wait_peer(int l, const char *want)
{
    received[0] = '\0';
    for (int i = 0; i < 50 && strstr(received, want) == NULL; i++) {
        ne_sim_clock_advance(100);
        step(2);
        size_t len = strlen(received);
        len += ne_sim_client_read(&sim, l, received + len, sizeof(received) - 1 - len);
        received[len] = '\0';
    }
    if (strstr(received, want) == NULL) {
        fail_msg("waited for %s, got: %.300s", want, received);
    }
    return received;
}

/* A file stream's source resumes after a restart after the origin sequence
 * of its newest Nats-Stream-Source header: the consumer it asks the origin
 * for starts at the next one (inventory JS-26b; the position lived in RAM,
 * and a restarted source asked for everything again). */
static void test_source_resumes_after_its_last_origin_sequence_JS26b(void **state)
{
    (void)state;
    int l = hub_peer();
    expect_ok(request("$JS.API.STREAM.CREATE.L",
                      "{\"name\":\"L\",\"storage\":\"file\",\"sources\":[{\"name\":\"CMDS\","
                      "\"external\":{\"api\":\"$JS.hub.API\",\"deliver\":\"dlv\"}}]}"));
    const char *got = wait_peer(l, "CONSUMER.CREATE.CMDS");
    assert_non_null(strstr(got, "\"deliver_policy\":\"all\""));
    const char *at = strstr(got, "\"deliver_subject\":\"");
    assert_non_null(at);
    at += strlen("\"deliver_subject\":\"");
    char deliver[64];
    size_t n = strcspn(at, "\"");
    assert_true(n < sizeof(deliver));
    memcpy(deliver, at, n);
    deliver[n] = '\0';
    /* The origin delivers its sequences 5 to 7 (consumer sequences 1 to 3). */
    for (unsigned i = 0; i < 3; i++) {
        char line[200];
        snprintf(line, sizeof(line), "LMSG %s $JS.ACK.CMDS.c.1.%u.%u.0.0@cmds.a 2\r\nc%u\r\n",
                 deliver, 5 + i, 1 + i, i);
        assert_int_equal(ne_sim_client_write(&sim, l, line, strlen(line)), strlen(line));
        step(4);
    }
    assert_int_equal(stream_named("L")->store.state.msgs, 3);
    halt();
    boot();
    l = hub_peer();
    got = wait_peer(l, "CONSUMER.CREATE.CMDS");
    assert_non_null(strstr(got, "\"deliver_policy\":\"by_start_sequence\",\"opt_start_seq\":8"));
    assert_int_equal(stream_named("L")->store.state.msgs, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_streams_and_consumers_come_back_JS17, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_state_log_stays_small, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_ack_writes_the_change_not_the_state_JS34,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_stay_deleted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subject_index_grows_from_shared_tables_JS26, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sync_always_syncs_before_each_ack, setup_cached,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sync_interval_writes_before_ack_and_syncs_on_time,
                                        setup_cached, teardown),
        cmocka_unit_test_setup_teardown(test_source_resumes_after_its_last_origin_sequence_JS26b,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
