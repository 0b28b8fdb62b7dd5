/* MQTT's persistence through the store (src/mqtt/ne_mqtt_persist.c) over
 * the simulated network and the simulated flash (port/sim): persistent
 * sessions (filters, messages queued and in flight with their packet ids,
 * inbound QoS 2 ids) and retained messages come back after a restart, a
 * crash (the server abandoned without shutdown, as kill -9 leaves it) and
 * a power cut at every program, erase and sync of the device, with and
 * without a write cache: nothing acknowledged (PUBACK, PUBCOMP's PUBREC,
 * SUBACK) is lost. IDs: shared/reference/mqtt-inventory.md (M3-, M5-) and
 * nats-inventory.md (MQ-). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "mqtt/ne_mqtt_codec.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_flash.h"
#include "sim/ne_sim_net.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_kv.h"

#define B(s) ((ne_mqtt_bytes){(const uint8_t *)(s), (uint32_t)strlen(s)})

/* A small device: 32 erase blocks of 4 KiB, 16-byte program units. */
#define BLOCKS 32
#define ERASE_BYTES 4096
#define UNIT 16
#define LINE 64

static ne_server srv;
static ne_sim_net sim;
static uint16_t mqtt_port;
static ne_sim_flash fl;
static uint8_t image[BLOCKS * ERASE_BYTES];
static uint32_t erase_counts[BLOCKS];
static uint8_t programmed[NE_SIM_FLASH_PROGRAMMED_BYTES(BLOCKS, ERASE_BYTES, UNIT)];
static uint8_t durable[BLOCKS * ERASE_BYTES];
static uint8_t dirty[NE_SIM_FLASH_DIRTY_BYTES(BLOCKS, ERASE_BYTES, LINE)];

typedef struct rx_buf {
    uint8_t data[NE_SIM_BUFFER_BYTES];
    size_t len;
} rx_buf;
static rx_buf rx[NE_SIM_MAX_SOCKETS];
static uint8_t out[1 << 16];

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
    for (uint64_t t = 0; t < ms; t += 100) {
        ne_sim_clock_advance(100);
        step(1);
    }
}

/* An erased device (cache: a write cache in front of it). */
static void fresh_flash(bool cache, uint64_t seed)
{
    ne_flash_geometry g = {
        .program_bytes = UNIT, .erase_bytes = ERASE_BYTES, .block_count = BLOCKS};
    ne_sim_flash_init(&fl, g, image, erase_counts, programmed, seed);
    if (cache) {
        ne_sim_flash_use_cache(&fl, durable, dirty, LINE, 8, 100);
    }
}

/* A server over the device, started from what it holds. The previous one,
 * if any, is abandoned as a crash leaves it: no shutdown. */
static void boot(void)
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    memset(rx, 0, sizeof(rx));
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.mqtt.enabled = true;
    opts.mqtt.port = 0;
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    ne_server_set_flash(&srv, &fl.flash);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    mqtt_port = ne_server_mqtt_port(&srv);
    assert_true(mqtt_port != 0);
}

static int setup(void **state)
{
    (void)state;
    fresh_flash(false, 7);
    boot();
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

/* ---- A small MQTT client ---------------------------------------------------------- */

typedef struct pkt {
    uint8_t first;
    uint32_t len;
    uint8_t body[NE_SIM_BUFFER_BYTES];
} pkt;
static pkt p;

static void send_bytes(int c, const uint8_t *bytes, size_t n)
{
    assert_int_equal(ne_sim_client_write(&sim, c, bytes, n), n);
}

/* The next whole packet the client has received, without running the
 * server (after a power cut: what reached the client before it). */
static bool next_received(int c, pkt *o)
{
    rx_buf *r = &rx[c];
    r->len += ne_sim_client_read(&sim, c, r->data + r->len, sizeof(r->data) - r->len);
    uint8_t first;
    uint32_t rl, hl;
    if (ne_mqtt_fixed_header(r->data, r->len, &first, &rl, &hl) != NE_OK || hl + rl > r->len) {
        return false;
    }
    o->first = first;
    o->len = rl;
    memcpy(o->body, r->data + hl, rl);
    memmove(r->data, r->data + hl + rl, r->len - hl - rl);
    r->len -= hl + rl;
    return true;
}

static bool next(int c, pkt *o)
{
    step(2);
    return next_received(c, o);
}

static void expect(int c, uint8_t type)
{
    if (!next(c, &p)) {
        fail_msg("client %d: no packet (want type %u)", c, type);
    }
    if ((p.first >> 4) != type) {
        fail_msg("client %d: packet 0x%02x, want type %u", c, p.first, type);
    }
}

static void expect_nothing(int c)
{
    if (next(c, &p)) {
        fail_msg("client %d: unexpected packet 0x%02x", c, p.first);
    }
}

/* CONNECT (3.1.1, or 5.0 with a Session Expiry of expiry_s); returns the
 * client, *present the CONNACK's Session Present. */
static int connect_as(uint8_t version, const char *id, bool clean, uint32_t expiry_s, bool *present)
{
    int c = ne_sim_connect(&sim, mqtt_port);
    assert_true(c >= 0);
    rx[c].len = 0;
    step(1);
    ne_mqtt_props props;
    memset(&props, 0, sizeof(props));
    if (expiry_s > 0) {
        props.present = NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY);
        props.session_expiry = expiry_s;
    }
    ne_mqtt_props_out po = {&props, {NULL, 0}, NULL, 0};
    ne_mqtt_connect_out co;
    memset(&co, 0, sizeof(co));
    co.level = version;
    co.clean_start = clean;
    co.props = &po;
    co.client_id = B(id);
    size_t n = ne_mqtt_encode_connect(out, sizeof(out), &co);
    assert_true(n > 0);
    send_bytes(c, out, n);
    expect(c, NE_MQTT_CONNACK);
    ne_mqtt_connack ca;
    uint8_t reason;
    assert_int_equal(ne_mqtt_decode_connack(p.body, p.len, version, &ca, &reason), NE_OK);
    assert_int_equal(ca.reason, 0);
    if (present != NULL) {
        *present = ca.session_present;
    }
    return c;
}

static int persistent(const char *id, bool *present)
{
    return connect_as(NE_MQTT_V311, id, false, 0, present);
}

static void subscribe(int c, uint8_t version, const char *filter, uint8_t qos)
{
    ne_mqtt_bytes f = B(filter);
    ne_mqtt_sub_options o = {qos, false, false, 0};
    ne_mqtt_props_out po = {NULL, {NULL, 0}, NULL, 0};
    size_t n = ne_mqtt_encode_subscribe(out, sizeof(out), version, 1, &po, &f, &o, 1);
    send_bytes(c, out, n);
    expect(c, NE_MQTT_SUBACK);
}

static void unsubscribe(int c, const char *filter)
{
    /* 3.1.1 UNSUBSCRIBE: packet id 2, one filter. */
    size_t len = strlen(filter);
    assert_true(len < 100);
    out[0] = 0xa2;
    out[1] = (uint8_t)(4 + len);
    out[2] = 0;
    out[3] = 2;
    out[4] = 0;
    out[5] = (uint8_t)len;
    memcpy(out + 6, filter, len);
    send_bytes(c, out, 6 + len);
    expect(c, NE_MQTT_UNSUBACK);
}

static void publish(int c, uint8_t qos, bool retain, bool dup, const char *topic,
                    const char *payload, uint16_t id)
{
    uint8_t first = (uint8_t)(0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0));
    size_t len = strlen(payload);
    size_t n = ne_mqtt_encode_publish_head(out, sizeof(out), NE_MQTT_V311, first, B(topic), id,
                                           NULL, (uint32_t)len);
    assert_true(n > 0);
    memcpy(out + n, payload, len);
    send_bytes(c, out, n + len);
}

static ne_mqtt_publish got;

static void decode_publish(void)
{
    uint8_t reason;
    assert_int_equal(p.first >> 4, NE_MQTT_PUBLISH);
    assert_int_equal(
        ne_mqtt_decode_publish(p.first, p.body, p.len, p.len, NE_MQTT_V311, false, &got, &reason),
        NE_OK);
}

static void expect_publish(int c, const char *topic, const char *payload, uint8_t qos, bool dup)
{
    expect(c, NE_MQTT_PUBLISH);
    decode_publish();
    if (got.topic.len != strlen(topic) || memcmp(got.topic.ptr, topic, got.topic.len) != 0) {
        fail_msg("topic %.*s, want %s", (int)got.topic.len, got.topic.ptr, topic);
    }
    assert_int_equal(got.payload_len, strlen(payload));
    assert_memory_equal(got.payload, payload, got.payload_len);
    assert_int_equal(got.qos, qos);
    assert_int_equal(got.dup, dup);
}

static void send_ack(int c, ne_mqtt_type type, uint16_t id)
{
    size_t n = ne_mqtt_encode_ack(out, sizeof(out), NE_MQTT_V311, type, id, 0, NULL);
    send_bytes(c, out, n);
}

static uint16_t ack_id(void)
{
    ne_mqtt_ack a;
    uint8_t r;
    assert_int_equal(ne_mqtt_decode_ack(p.body, p.len, NE_MQTT_V311, &a, &r), NE_OK);
    return a.packet_id;
}

static void expect_ack(int c, ne_mqtt_type type, uint16_t id)
{
    expect(c, type);
    assert_int_equal(ack_id(), id);
}

static void go_offline(int c)
{
    ne_sim_client_close(&sim, c);
    step(3);
}

/* ---- Restart and crash ------------------------------------------------------------------ */

/* Sessions (their filters, queued QoS 1 and 2 messages, a message in
 * flight, an inbound QoS 2 id) and retained messages come back after the
 * server is abandoned without a shutdown (M3-32, M3-40, M3-39, M3-51). */
static void test_crash_keeps_sessions_messages_and_retained_M3_32_MQ_20(void **state)
{
    (void)state;
    bool present = true;
    int keeper = persistent("keeper", &present);
    assert_false(present);
    subscribe(keeper, NE_MQTT_V311, "a/#", 1);
    subscribe(keeper, NE_MQTT_V311, "b/+", 2);
    go_offline(keeper);
    int flying = persistent("flying", NULL);
    subscribe(flying, NE_MQTT_V311, "a/#", 1);
    int pub = persistent("pub", NULL);
    publish(pub, 1, false, false, "a/x", "one", 1);
    expect_ack(pub, NE_MQTT_PUBACK, 1);
    expect_publish(flying, "a/x", "one", 1, false);
    uint16_t flying_id = got.packet_id; /* never acknowledged */
    publish(pub, 2, false, false, "b/y", "two", 2);
    expect_ack(pub, NE_MQTT_PUBREC, 2);
    send_ack(pub, NE_MQTT_PUBREL, 2);
    expect_ack(pub, NE_MQTT_PUBCOMP, 2);
    publish(pub, 1, true, false, "r/t", "kept", 3);
    expect_ack(pub, NE_MQTT_PUBACK, 3);
    /* A QoS 2 message received, its PUBREL not yet. */
    publish(pub, 2, false, false, "c/z", "once", 4);
    expect_ack(pub, NE_MQTT_PUBREC, 4);

    boot(); /* the crash: nothing was shut down */

    keeper = persistent("keeper", &present);
    assert_true(present);
    expect_publish(keeper, "a/x", "one", 1, false);
    send_ack(keeper, NE_MQTT_PUBACK, got.packet_id);
    expect_publish(keeper, "b/y", "two", 2, false);
    uint16_t id2 = got.packet_id;
    send_ack(keeper, NE_MQTT_PUBREC, id2);
    expect_ack(keeper, NE_MQTT_PUBREL, id2);
    send_ack(keeper, NE_MQTT_PUBCOMP, id2);
    expect_nothing(keeper);
    /* The message in flight goes again with DUP and its packet id. */
    flying = persistent("flying", &present);
    assert_true(present);
    expect_publish(flying, "a/x", "one", 1, true);
    assert_int_equal(got.packet_id, flying_id);
    send_ack(flying, NE_MQTT_PUBACK, flying_id);
    /* The QoS 2 id is still held: the PUBLISH sent again is not routed
     * again (M3-39), and its PUBREL completes it. */
    int watcher = connect_as(NE_MQTT_V311, "watcher", true, 0, NULL);
    subscribe(watcher, NE_MQTT_V311, "c/#", 2);
    pub = persistent("pub", &present);
    assert_true(present);
    publish(pub, 2, false, true, "c/z", "once", 4);
    expect_ack(pub, NE_MQTT_PUBREC, 4);
    send_ack(pub, NE_MQTT_PUBREL, 4);
    expect_ack(pub, NE_MQTT_PUBCOMP, 4);
    expect_nothing(watcher);
    /* The filters came back: a new message reaches the offline keeper's
     * session and the connected one. */
    publish(pub, 1, false, false, "a/new", "three", 5);
    expect_ack(pub, NE_MQTT_PUBACK, 5);
    expect_publish(keeper, "a/new", "three", 1, false);
    send_ack(keeper, NE_MQTT_PUBACK, got.packet_id);
    /* The retained message (M3-51). */
    subscribe(watcher, NE_MQTT_V311, "r/#", 1);
    expect(watcher, NE_MQTT_PUBLISH);
    decode_publish();
    assert_int_equal(got.payload_len, 4);
    assert_memory_equal(got.payload, "kept", 4);
    assert_true(got.retain);
}

/* A graceful restart keeps the same; a session ended by a clean start,
 * an unsubscribed filter and a cleared retained message do not come back
 * (M3-31, M3-52). */
static void test_restart_forgets_what_ended_M3_31_M3_52(void **state)
{
    (void)state;
    int a = persistent("a", NULL);
    subscribe(a, NE_MQTT_V311, "x/#", 1);
    subscribe(a, NE_MQTT_V311, "y/#", 1);
    unsubscribe(a, "y/#");
    go_offline(a);
    int gone = persistent("gone", NULL);
    subscribe(gone, NE_MQTT_V311, "x/#", 1);
    go_offline(gone);
    gone = connect_as(NE_MQTT_V311, "gone", true, 0, NULL); /* ends the session */
    go_offline(gone);
    int pub = connect_as(NE_MQTT_V311, "pub", true, 0, NULL);
    publish(pub, 1, true, false, "r/1", "old", 1);
    expect_ack(pub, NE_MQTT_PUBACK, 1);
    publish(pub, 1, true, false, "r/1", "", 2); /* clears it */
    expect_ack(pub, NE_MQTT_PUBACK, 2);
    publish(pub, 1, true, false, "r/2", "stays", 3);
    expect_ack(pub, NE_MQTT_PUBACK, 3);

    ne_server_shutdown(&srv);
    boot();

    bool present = false;
    a = persistent("a", &present);
    assert_true(present);
    expect_nothing(a); /* r/2 is not under x/# */
    pub = connect_as(NE_MQTT_V311, "pub", true, 0, NULL);
    publish(pub, 1, false, false, "y/1", "not for a", 1);
    expect_ack(pub, NE_MQTT_PUBACK, 1);
    publish(pub, 1, false, false, "x/1", "for a", 2);
    expect_ack(pub, NE_MQTT_PUBACK, 2);
    expect_publish(a, "x/1", "for a", 1, false);
    send_ack(a, NE_MQTT_PUBACK, got.packet_id);
    expect_nothing(a);
    gone = persistent("gone", &present);
    assert_false(present);
    subscribe(pub, NE_MQTT_V311, "r/#", 0);
    expect(pub, NE_MQTT_PUBLISH);
    decode_publish();
    assert_int_equal(got.topic.len, 3);
    assert_memory_equal(got.topic.ptr, "r/2", 3);
    expect_nothing(pub);
}

/* A 5.0 session's expiry comes back with it and counts from the restart
 * (M5-19). */
static void test_session_expiry_after_restart_M5_19(void **state)
{
    (void)state;
    int c = connect_as(NE_MQTT_V5, "brief", false, 30, NULL);
    subscribe(c, NE_MQTT_V5, "e/#", 1);
    go_offline(c);
    boot();
    advance(10 * 1000);
    bool present = false;
    c = connect_as(NE_MQTT_V5, "brief", false, 30, &present);
    assert_true(present);
    go_offline(c);
    advance(31 * 1000);
    c = connect_as(NE_MQTT_V5, "brief", false, 30, &present);
    assert_false(present);
}

/* A 5.0 client of a persistent session (Session Expiry 300 s) with a
 * will delayed by delay_s (M5-23). */
static int connect_with_will(const char *id, uint32_t delay_s)
{
    int c = ne_sim_connect(&sim, mqtt_port);
    assert_true(c >= 0);
    rx[c].len = 0;
    step(1);
    ne_mqtt_props props;
    memset(&props, 0, sizeof(props));
    props.present = NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY);
    props.session_expiry = 300;
    ne_mqtt_props wprops;
    memset(&wprops, 0, sizeof(wprops));
    wprops.present = NE_MQTT_HAS(NE_MQTT_PROP_WILL_DELAY);
    wprops.will_delay = delay_s;
    ne_mqtt_props_out po = {&props, {NULL, 0}, NULL, 0};
    ne_mqtt_props_out wpo = {&wprops, {NULL, 0}, NULL, 0};
    ne_mqtt_connect_out co;
    memset(&co, 0, sizeof(co));
    co.level = NE_MQTT_V5;
    co.clean_start = false;
    co.props = &po;
    co.client_id = B(id);
    co.will = true;
    co.will_qos = 1;
    co.will_props = &wpo;
    co.will_topic = B("wills/gone");
    co.will_payload = B("last words");
    size_t n = ne_mqtt_encode_connect(out, sizeof(out), &co);
    assert_true(n > 0);
    send_bytes(c, out, n);
    expect(c, NE_MQTT_CONNACK);
    return c;
}

/* A will waiting for its delay when the broker stops (its client closed
 * abnormally, its session persistent) is kept with the session: after a
 * crash it is published when the delay has passed again, counted from the
 * new start, and once (M5-23). Before wills were kept, the restart lost
 * it and the watcher below got nothing. */
static void test_pending_will_survives_restart_M5_23(void **state)
{
    (void)state;
    int c = connect_with_will("mortal", 30);
    go_offline(c); /* abnormal: no DISCONNECT */
    advance(2 * 1000);
    boot(); /* a crash: the previous server is abandoned */
    int w = connect_as(NE_MQTT_V311, "watcher", true, 0, NULL);
    subscribe(w, NE_MQTT_V311, "wills/#", 1);
    advance(20 * 1000);
    expect_nothing(w);
    advance(11 * 1000);
    expect_publish(w, "wills/gone", "last words", 1, false);
    send_ack(w, NE_MQTT_PUBACK, got.packet_id);
    advance(2 * 1000);
    expect_nothing(w);
    /* Published, it is gone from the record too: another crash does not
     * bring it back. */
    boot();
    w = connect_as(NE_MQTT_V311, "watcher", true, 0, NULL);
    subscribe(w, NE_MQTT_V311, "wills/#", 1);
    advance(35 * 1000);
    expect_nothing(w);
}

/* ---- Power cuts ------------------------------------------------------------------------- */

/* The seeds of the write cache's choices (which unsynced lines survive)
 * are fixed; NE_MQTT_CUT_SEED moves them all (make powercut-mqtt runs
 * many). */
static uint64_t seed_of(uint64_t base)
{
    const char *e = getenv("NE_MQTT_CUT_SEED");
    return base + (e != NULL ? strtoull(e, NULL, 10) * 100000u : 0u);
}

/* The end of a cut run: shut down, every pool back to idle. */
static void shutdown_after_cut(uint64_t cut)
{
    ne_server_shutdown(&srv);
    const char *busy = NULL;
    if (ne_server_pools_in_use(&srv, &busy) != 0) {
        fail_msg("cut %llu: pool \"%s\" not back to idle", (unsigned long long)cut, busy);
    }
}

#define CUT_MSGS 10

/* Runs the scenario with the power cut at the cut-th device operation
 * after the sessions are set up (0: no cut); returns the operations the
 * publishes took. Then checks, after the restart, that every message
 * acknowledged to the publisher reaches the offline session once, in
 * order, and every acknowledged retained message is there. */
static uint64_t power_cut_run(bool cache, uint64_t seed, uint64_t cut)
{
    fresh_flash(cache, seed);
    boot();
    int keeper = persistent("keeper", NULL);
    subscribe(keeper, NE_MQTT_V311, "a/#", 1);
    go_offline(keeper);
    int pub = connect_as(NE_MQTT_V311, "pub", true, 0, NULL);
    uint64_t ops0 = fl.ops;
    if (cut > 0) {
        ne_sim_flash_cut_after(&fl, cut);
    }
    bool acked[CUT_MSGS] = {false};
    bool retained_acked[CUT_MSGS] = {false};
    char topic[16], payload[16];
    for (int i = 0; i < CUT_MSGS && fl.powered; i++) {
        bool retain = i % 3 == 0;
        snprintf(topic, sizeof(topic), retain ? "r/%d" : "a/%d", i);
        snprintf(payload, sizeof(payload), "m%d", i);
        publish(pub, 1, retain, false, topic, payload, (uint16_t)(i + 1));
        if (!next(pub, &p) || (p.first >> 4) != NE_MQTT_PUBACK) {
            break; /* not acknowledged: the publisher would send it again */
        }
        assert_int_equal(ack_id(), i + 1);
        if (!fl.powered) {
            break; /* acknowledged as the power went: it must be there */
        }
        if (retain) {
            retained_acked[i] = true;
        } else {
            acked[i] = true;
        }
    }
    uint64_t used = fl.ops - ops0;
    ne_sim_flash_power_on(&fl);

    boot();
    bool present = false;
    keeper = persistent("keeper", &present);
    assert_true(present);
    int last = -1;
    for (int k = 0; k < CUT_MSGS + 1 && next(keeper, &p); k++) {
        decode_publish();
        int i = -1;
        assert_int_equal(sscanf((const char *)got.payload, "m%d", &i), 1);
        assert_true(i > last && i < CUT_MSGS);
        for (int j = last + 1; j < i; j++) {
            if (acked[j]) {
                fail_msg("cut %llu: acknowledged message m%d lost", (unsigned long long)cut, j);
            }
        }
        last = i;
        send_ack(keeper, NE_MQTT_PUBACK, got.packet_id);
    }
    for (int j = last + 1; j < CUT_MSGS; j++) {
        if (acked[j]) {
            fail_msg("cut %llu: acknowledged message m%d lost", (unsigned long long)cut, j);
        }
    }
    int watcher = connect_as(NE_MQTT_V311, "watcher", true, 0, NULL);
    subscribe(watcher, NE_MQTT_V311, "r/#", 0);
    bool seen[CUT_MSGS] = {false};
    for (int k = 0; k < CUT_MSGS + 1 && next(watcher, &p); k++) {
        decode_publish();
        int i = -1;
        assert_int_equal(sscanf((const char *)got.payload, "m%d", &i), 1);
        assert_true(i >= 0 && i < CUT_MSGS);
        seen[i] = true;
    }
    for (int j = 0; j < CUT_MSGS; j++) {
        if (retained_acked[j] && !seen[j]) {
            fail_msg("cut %llu: acknowledged retained message m%d lost", (unsigned long long)cut,
                     j);
        }
    }
    shutdown_after_cut(cut);
    return used;
}

/* A run (cache, seed, cut) once without a cut, then with the power cut at
 * each of the operations it took, and one past them. */
typedef uint64_t (*cut_run)(bool cache, uint64_t seed, uint64_t cut);

static void every_cut(cut_run run, bool cache, uint64_t seed)
{
    uint64_t ops = run(cache, seed, 0);
    assert_true(ops > 0);
    for (uint64_t cut = 1; cut <= ops + 1; cut++) {
        (void)run(cache, seed + cut, cut);
    }
}

/* QoS 2 toward a persistent session's client (M3-39): the subscriber is a
 * receiver that keeps the packet ids it has seen until PUBREL, as the
 * specification's method B does, and survives the server's cut. */
#define Q2_MSGS 8
typedef struct q2_receiver {
    int c;
    uint16_t held[64];
    uint32_t held_count;
    int delivered[Q2_MSGS];
} q2_receiver;

static bool q2_held(const q2_receiver *r, uint16_t id)
{
    for (uint32_t i = 0; i < r->held_count; i++) {
        if (r->held[i] == id) {
            return true;
        }
    }
    return false;
}

/* A PUBLISH the receiver got (in p): delivered to its application the
 * first time its packet id is seen. */
static void q2_receive(q2_receiver *r)
{
    decode_publish();
    assert_int_equal(got.qos, 2);
    int i = -1;
    assert_int_equal(sscanf((const char *)got.payload, "q%d", &i), 1);
    assert_true(i >= 0 && i < Q2_MSGS);
    if (!q2_held(r, got.packet_id)) {
        assert_true(r->held_count < 64);
        r->held[r->held_count++] = got.packet_id;
        r->delivered[i]++;
    }
}

/* Answers what the server sent the receiver: PUBLISH (delivered to the
 * application the first time its id is seen), PUBREL. */
static void q2_service(q2_receiver *r)
{
    for (int k = 0; k < 4 * Q2_MSGS && next(r->c, &p); k++) {
        uint8_t type = p.first >> 4;
        if (type == NE_MQTT_PUBLISH) {
            q2_receive(r);
            send_ack(r->c, NE_MQTT_PUBREC, got.packet_id);
        } else if (type == NE_MQTT_PUBREL) {
            uint16_t id = ack_id();
            for (uint32_t j = 0; j < r->held_count; j++) {
                if (r->held[j] == id) {
                    r->held[j] = r->held[--r->held_count];
                    break;
                }
            }
            send_ack(r->c, NE_MQTT_PUBCOMP, id);
        }
    }
}

/* What reached the receiver before the power went: its application has
 * the messages it saw (nothing is answered: the server is gone). */
static void q2_absorb(q2_receiver *r)
{
    for (int k = 0; k < 4 * Q2_MSGS && next_received(r->c, &p); k++) {
        if ((p.first >> 4) == NE_MQTT_PUBLISH) {
            q2_receive(r);
        }
    }
}

/* A clean publisher sends QoS 2 messages to a persistent session that
 * receives them at QoS 2 while connected; the power goes at the cut-th
 * operation. After the restart the receiver resumes: every message the
 * publisher had acknowledged reaches the application exactly once, and
 * none twice. Returns the operations the run took. */
static uint64_t q2_cut_run(bool cache, uint64_t seed, uint64_t cut)
{
    fresh_flash(cache, seed);
    boot();
    q2_receiver r;
    memset(&r, 0, sizeof(r));
    r.c = persistent("receiver", NULL);
    subscribe(r.c, NE_MQTT_V311, "q/#", 2);
    int pub = connect_as(NE_MQTT_V311, "pub", true, 0, NULL);
    uint64_t ops0 = fl.ops;
    if (cut > 0) {
        ne_sim_flash_cut_after(&fl, cut);
    }
    bool acked[Q2_MSGS] = {false};
    char payload[16];
    for (int i = 0; i < Q2_MSGS && fl.powered; i++) {
        snprintf(payload, sizeof(payload), "q%d", i);
        publish(pub, 2, false, false, "q/x", payload, (uint16_t)(i + 1));
        if (!next(pub, &p) || (p.first >> 4) != NE_MQTT_PUBREC) {
            break;
        }
        acked[i] = true;
        send_ack(pub, NE_MQTT_PUBREL, (uint16_t)(i + 1));
        if (!next(pub, &p) || (p.first >> 4) != NE_MQTT_PUBCOMP) {
            break;
        }
        q2_service(&r);
    }
    uint64_t used = fl.ops - ops0;
    ne_sim_flash_power_on(&fl);
    boot();
    bool present = false;
    ne_sim_client_close(&sim, r.c); /* its connection went with the server */
    r.c = persistent("receiver", &present);
    assert_true(present);
    q2_service(&r);
    q2_service(&r);
    for (int i = 0; i < Q2_MSGS; i++) {
        if (r.delivered[i] > 1) {
            fail_msg("cut %llu: q%d delivered %d times", (unsigned long long)cut, i,
                     r.delivered[i]);
        }
        if (acked[i] && r.delivered[i] != 1) {
            fail_msg("cut %llu: acknowledged q%d not delivered", (unsigned long long)cut, i);
        }
    }
    shutdown_after_cut(cut);
    return used;
}

/* QoS 2 to a persistent session's client across a power cut at every
 * operation, with and without a write cache: exactly once. */
static void test_power_cut_qos2_exactly_once_to_subscriber_M3_39(void **state)
{
    (void)state;
    every_cut(q2_cut_run, false, seed_of(500));
    every_cut(q2_cut_run, true, seed_of(500));
    boot();
}

/* A persistent publisher's QoS 2 messages into persistent sessions, one
 * connected and one offline, both at QoS 2; the power goes at the cut-th
 * operation. After the restart the publisher finishes what it had sent as
 * the specification asks of it (PUBLISH again with DUP while it has no
 * PUBREC, PUBREL again while it has no PUBCOMP: M3-39, M3-40), and then
 * both sessions' applications have each sent message exactly once.
 * Returns the operations the run took. */
static uint64_t q2_pub_cut_run(bool cache, uint64_t seed, uint64_t cut)
{
    fresh_flash(cache, seed);
    boot();
    q2_receiver r, k;
    memset(&r, 0, sizeof(r));
    memset(&k, 0, sizeof(k));
    k.c = persistent("keeper", NULL);
    subscribe(k.c, NE_MQTT_V311, "q/#", 2);
    go_offline(k.c);
    r.c = persistent("receiver", NULL);
    subscribe(r.c, NE_MQTT_V311, "q/#", 2);
    int pub = persistent("pub", NULL);
    uint64_t ops0 = fl.ops;
    if (cut > 0) {
        ne_sim_flash_cut_after(&fl, cut);
    }
    enum { UNSENT, SENT, RECEIVED, COMPLETE } state[Q2_MSGS] = {UNSENT};
    char payload[16];
    for (int i = 0; i < Q2_MSGS && fl.powered; i++) {
        snprintf(payload, sizeof(payload), "q%d", i);
        publish(pub, 2, false, false, "q/x", payload, (uint16_t)(i + 1));
        state[i] = SENT;
        if (!next(pub, &p) || (p.first >> 4) != NE_MQTT_PUBREC) {
            break;
        }
        state[i] = RECEIVED;
        send_ack(pub, NE_MQTT_PUBREL, (uint16_t)(i + 1));
        if (!next(pub, &p) || (p.first >> 4) != NE_MQTT_PUBCOMP) {
            break;
        }
        state[i] = COMPLETE;
        q2_service(&r);
    }
    uint64_t used = fl.ops - ops0;
    q2_absorb(&r);
    ne_sim_flash_power_on(&fl);
    boot();
    ne_sim_client_close(&sim, r.c); /* the connections went with the server */
    ne_sim_client_close(&sim, pub);
    bool present = false;
    pub = persistent("pub", &present);
    assert_true(present);
    for (int i = 0; i < Q2_MSGS; i++) {
        if (state[i] == SENT) {
            snprintf(payload, sizeof(payload), "q%d", i);
            publish(pub, 2, false, true, "q/x", payload, (uint16_t)(i + 1));
            expect_ack(pub, NE_MQTT_PUBREC, (uint16_t)(i + 1));
        }
        if (state[i] == SENT || state[i] == RECEIVED) {
            send_ack(pub, NE_MQTT_PUBREL, (uint16_t)(i + 1));
            expect_ack(pub, NE_MQTT_PUBCOMP, (uint16_t)(i + 1));
        }
    }
    r.c = persistent("receiver", &present);
    assert_true(present);
    k.c = persistent("keeper", &present);
    assert_true(present);
    for (int round = 0; round < 3; round++) {
        q2_service(&r);
        q2_service(&k);
    }
    for (int i = 0; i < Q2_MSGS; i++) {
        int want = state[i] != UNSENT ? 1 : 0;
        if (r.delivered[i] != want || k.delivered[i] != want) {
            fail_msg("cut %llu: q%d delivered %d times to the connected session and %d times to "
                     "the offline one (want %d)",
                     (unsigned long long)cut, i, r.delivered[i], k.delivered[i], want);
        }
    }
    shutdown_after_cut(cut);
    return used;
}

/* A persistent publisher's QoS 2 across a power cut at every operation,
 * with and without a write cache: exactly once into persistent sessions. */
static void test_power_cut_qos2_exactly_once_from_publisher_M3_39(void **state)
{
    (void)state;
    every_cut(q2_pub_cut_run, false, seed_of(900));
    every_cut(q2_pub_cut_run, true, seed_of(900));
    boot();
}

/* A power cut at every program and erase: nothing acknowledged is lost. */
static void test_power_cut_loses_nothing_acknowledged_M3_37(void **state)
{
    (void)state;
    every_cut(power_cut_run, false, seed_of(11));
    boot(); /* for the teardown */
}

/* The same behind a write cache that reorders and loses unsynced writes
 * (syncs are cut points too). */
static void test_power_cut_behind_a_write_cache_M3_37(void **state)
{
    (void)state;
    every_cut(power_cut_run, true, seed_of(101));
    boot();
}

/* ---- Records put into the log before a start ------------------------------------------ */

/* What an earlier release, or a damaged device, left in the "mqtt" log:
 * records written here byte by byte, in the layouts of
 * src/mqtt/ne_mqtt_persist.c (format 1 as the release before message
 * origins and commit stamps wrote it). */
static ne_store_dev put_dev;
static ne_store_kv put_kv;
static ne_store_subject put_keys[64];
static char put_key_text[4096];

typedef struct rec {
    uint8_t b[2048];
    size_t len;
} rec;

static void rec_bytes(rec *r, const void *bytes, size_t n)
{
    assert_true(n <= sizeof(r->b) - r->len);
    if (n > 0) {
        memcpy(r->b + r->len, bytes, n);
    }
    r->len += n;
}

static void rec_u8(rec *r, uint8_t v)
{
    rec_bytes(r, &v, 1);
}

static void rec_u16(rec *r, uint16_t v)
{
    rec_u8(r, (uint8_t)(v >> 8));
    rec_u8(r, (uint8_t)v);
}

static void rec_u32(rec *r, uint32_t v)
{
    rec_u16(r, (uint16_t)(v >> 16));
    rec_u16(r, (uint16_t)v);
}

static void rec_u64(rec *r, uint64_t v)
{
    rec_u32(r, (uint32_t)(v >> 32));
    rec_u32(r, (uint32_t)v);
}

/* An erased device with an empty "mqtt" log, attached for put_record. */
static void open_log(void)
{
    fresh_flash(false, 7);
    assert_int_equal(ne_store_dev_open(&put_dev, &fl.flash, NULL), NE_OK);
    uint32_t id = 0;
    assert_int_equal(ne_store_dev_create(&put_dev, NE_STORE_KIND_KV, 0, "mqtt", 4, NULL, 0, &id),
                     NE_OK);
    ne_store_kv_config cfg = {.keys = put_keys,
                              .key_capacity = 64,
                              .key_text = put_key_text,
                              .key_text_bytes = sizeof(put_key_text),
                              .max_blocks = 0};
    assert_int_equal(ne_store_kv_attach(&put_kv, &put_dev, id, &cfg), NE_OK);
}

/* key: the kind's letter, then the client id, message id or topic. */
static void put_record(char kind, const void *key, size_t key_len, const rec *value)
{
    uint8_t k[1 + 256];
    assert_true(key_len < sizeof(k));
    k[0] = (uint8_t)kind;
    memcpy(k + 1, key, key_len);
    assert_int_equal(ne_store_kv_put(&put_kv, k, key_len + 1, value->b, value->len), NE_OK);
}

static void put_message_key(uint64_t id, const rec *value)
{
    uint8_t k[8];
    for (int i = 0; i < 8; i++) {
        k[i] = (uint8_t)(id >> (56 - 8 * i));
    }
    put_record('m', k, sizeof(k), value);
}

static void close_log(void)
{
    assert_int_equal(ne_store_kv_sync(&put_kv), NE_OK);
    assert_int_equal(ne_store_kv_detach(&put_kv), NE_OK);
}

/* A message record of format 1 or 2 (2: no transaction, no publisher). */
static void message_record(rec *r, uint8_t format, uint8_t qos, bool retain, const char *topic,
                           const uint8_t *props, uint16_t props_len, const char *payload)
{
    r->len = 0;
    rec_u8(r, format);
    rec_u8(r, qos);
    rec_u8(r, retain ? 1 : 0);
    rec_u8(r, 0);
    rec_u32(r, 0); /* no expiry */
    rec_u16(r, (uint16_t)strlen(topic));
    rec_u16(r, props_len);
    rec_u32(r, (uint32_t)strlen(payload));
    if (format >= 2) {
        rec_u64(r, 0); /* no transaction */
        rec_u16(r, 0); /* no publisher */
    }
    rec_bytes(r, topic, strlen(topic));
    rec_bytes(r, props, props_len);
    rec_bytes(r, payload, strlen(payload));
}

/* A session record's head: no user (no authentication), no inbound ids. */
static void session_head(rec *r, uint8_t format, uint8_t version, uint32_t expiry_s, uint16_t subs,
                         uint16_t outs)
{
    r->len = 0;
    rec_u8(r, format);
    rec_u8(r, version);
    rec_u16(r, 1); /* the next packet id */
    rec_u32(r, expiry_s);
    rec_u64(r, 0);      /* the user's fingerprint */
    rec_u16(r, 0xffff); /* the user's index: none */
    rec_u16(r, subs);
    rec_u16(r, outs);
    rec_u16(r, 0); /* inbound QoS 2 ids */
    if (format >= 2) {
        rec_u64(r, 0); /* its last commit */
    }
}

static void session_filter(rec *r, const char *subject, uint8_t qos)
{
    rec_u16(r, (uint16_t)strlen(subject));
    rec_bytes(r, subject, strlen(subject));
    rec_u16(r, 0); /* no queue group */
    rec_u8(r, qos);
    rec_u8(r, 0);  /* options */
    rec_u32(r, 0); /* no subscription identifier */
}

/* A message queued for the session, not yet sent (no packet id). */
static void session_queued(rec *r, uint64_t id, uint8_t qos)
{
    rec_u64(r, id);
    rec_u16(r, 0);
    rec_u8(r, NE_MQTT_OUT_QUEUED);
    rec_u8(r, qos);
    rec_u8(r, 0);
    rec_u8(r, 0);
    rec_u32(r, 0);
}

static void session_will(rec *r, uint64_t id, uint32_t delay_s)
{
    rec_u64(r, id);
    rec_u32(r, delay_s);
}

/* An upgrade keeps the state: a persistent session with a filter and a
 * queued QoS 1 message, and that message, as the previous release wrote
 * them (format 1: no message origin, a 24-byte session head without its
 * commit stamp), load: the session is there (Session Present), its filter
 * routes, and the message is delivered once, not again after a restart
 * (M3-32). */
static void test_format_1_records_load_after_upgrade_M3_32(void **state)
{
    (void)state;
    rec r;
    open_log();
    message_record(&r, 1, 1, false, "up/x", NULL, 0, "kept");
    put_message_key(5, &r);
    session_head(&r, 1, NE_MQTT_V311, UINT32_MAX, 1, 1);
    assert_int_equal(r.len, 24);
    session_filter(&r, "up.>", 1);
    session_queued(&r, 5, 1);
    session_will(&r, 0, 0);
    put_record('s', "old", 3, &r);
    close_log();
    boot();

    bool present = false;
    int c = persistent("old", &present);
    assert_true(present);
    expect_publish(c, "up/x", "kept", 1, false);
    send_ack(c, NE_MQTT_PUBACK, got.packet_id);
    expect_nothing(c);
    int pub = connect_as(NE_MQTT_V311, "pub", true, 0, NULL);
    publish(pub, 1, false, false, "up/y", "new", 1);
    expect_ack(pub, NE_MQTT_PUBACK, 1);
    expect_publish(c, "up/y", "new", 1, false);
    send_ack(c, NE_MQTT_PUBACK, got.packet_id);
    step(2);

    ne_server_shutdown(&srv);
    boot();
    c = persistent("old", &present);
    assert_true(present);
    expect_nothing(c);
}

/* A message record whose topic is not a topic name (a wildcard, a NUL)
 * or whose properties are not a message's own (cut short, a Subscription
 * Identifier) is dropped at load: before, it went out as a PUBLISH the
 * client could not decode. The session keeps its valid message. */
static void test_loaded_message_not_a_valid_publish_is_dropped(void **state)
{
    (void)state;
    static const uint8_t cut_short[] = {0x26, 0x00, 0x05, 'a', 'b'};
    static const uint8_t sub_id[] = {0x0b, 0x05};
    static const uint8_t user[] = {0x26, 0x00, 0x01, 'k', 0x00, 0x01, 'v'};
    rec r;
    open_log();
    message_record(&r, 2, 1, false, "a/+", NULL, 0, "wildcard");
    put_message_key(7, &r);
    /* The topic "a/", NUL, "b", written by hand (strlen stops at the NUL). */
    r.len = 0;
    rec_u8(&r, 2);
    rec_u8(&r, 1);
    rec_u8(&r, 0);
    rec_u8(&r, 0);
    rec_u32(&r, 0);
    rec_u16(&r, 4);
    rec_u16(&r, 0);
    rec_u32(&r, 3);
    rec_u64(&r, 0);
    rec_u16(&r, 0);
    rec_bytes(&r, "a/\0b", 4);
    rec_bytes(&r, "nul", 3);
    put_message_key(8, &r);
    message_record(&r, 2, 1, false, "a/b", NULL, 0, "valid");
    put_message_key(9, &r);
    message_record(&r, 2, 1, false, "a/c", cut_short, sizeof(cut_short), "cut short");
    put_message_key(10, &r);
    message_record(&r, 2, 1, false, "a/d", sub_id, sizeof(sub_id), "sub id");
    put_message_key(11, &r);
    message_record(&r, 2, 1, false, "a/e", user, sizeof(user), "user property");
    put_message_key(12, &r);
    session_head(&r, 2, NE_MQTT_V311, UINT32_MAX, 1, 3);
    session_filter(&r, "a.*", 1);
    session_queued(&r, 7, 1);
    session_queued(&r, 8, 1);
    session_queued(&r, 9, 1);
    session_will(&r, 0, 0);
    put_record('s', "v3", 2, &r);
    session_head(&r, 2, NE_MQTT_V5, 300, 1, 3);
    session_filter(&r, "a.*", 1);
    session_queued(&r, 10, 1);
    session_queued(&r, 11, 1);
    session_queued(&r, 12, 1);
    session_will(&r, 0, 0);
    put_record('s', "v5", 2, &r);
    close_log();
    boot();

    bool present = false;
    int c = persistent("v3", &present);
    assert_true(present);
    expect_publish(c, "a/b", "valid", 1, false);
    send_ack(c, NE_MQTT_PUBACK, got.packet_id);
    expect_nothing(c);
    c = connect_as(NE_MQTT_V5, "v5", false, 300, &present);
    assert_true(present);
    expect(c, NE_MQTT_PUBLISH);
    uint8_t reason;
    assert_int_equal(
        ne_mqtt_decode_publish(p.first, p.body, p.len, p.len, NE_MQTT_V5, false, &got, &reason),
        NE_OK);
    assert_int_equal(got.topic.len, 3);
    assert_memory_equal(got.topic.ptr, "a/e", 3);
    assert_int_equal(got.props.user_count, 1);
    send_ack(c, NE_MQTT_PUBACK, got.packet_id);
    expect_nothing(c);
}

/* A pending will whose properties exceed NE_MQTT_MAX_PROPS_BYTES (no
 * CONNECT can give one) is dropped at load: before, publishing it when
 * its delay passed overran the buffer meant for it (an assertion). */
static void test_loaded_will_with_oversized_properties_is_dropped_M5_23(void **state)
{
    (void)state;
    static uint8_t props[NE_MQTT_MAX_PROPS_BYTES + 16];
    uint16_t value_len = (uint16_t)(sizeof(props) - 6);
    props[0] = 0x26;
    props[1] = 0;
    props[2] = 1;
    props[3] = 'k';
    props[4] = (uint8_t)(value_len >> 8);
    props[5] = (uint8_t)value_len;
    memset(props + 6, 'x', value_len);
    rec r;
    open_log();
    message_record(&r, 2, 1, false, "wills/big", props, sizeof(props), "last words");
    put_message_key(20, &r);
    session_head(&r, 2, NE_MQTT_V5, 300, 0, 0);
    session_will(&r, 20, 1);
    put_record('s', "mortal", 6, &r);
    close_log();
    boot();

    int w = connect_as(NE_MQTT_V311, "watcher", true, 0, NULL);
    subscribe(w, NE_MQTT_V311, "wills/#", 1);
    advance(3 * 1000);
    expect_nothing(w);
}

/* A retained record names its topic and its message; one whose message
 * has another topic (of the same length) is dropped at load: before, the
 * message was retained under its own topic, which no record named, and
 * the record was removed (M3-51). */
static void test_retained_record_of_another_topic_is_dropped_M3_51(void **state)
{
    (void)state;
    rec r;
    open_log();
    message_record(&r, 2, 1, true, "t/x", NULL, 0, "elsewhere");
    put_message_key(30, &r);
    r.len = 0;
    rec_u64(&r, 30);
    put_record('r', "t/r", 3, &r);
    close_log();
    boot();

    int w = connect_as(NE_MQTT_V311, "watcher", true, 0, NULL);
    subscribe(w, NE_MQTT_V311, "t/#", 1);
    expect_nothing(w);
}

/* Message ids count up from 1: a record keyed by the last id (all ones)
 * is dropped at load. Before, the next id wrapped to 0 and then to the
 * ids of messages still held: a new message's record replaced an old
 * one's, and after a restart the offline session got "three" where "one"
 * had been. */
static void test_message_id_at_the_last_is_dropped_ids_do_not_wrap(void **state)
{
    (void)state;
    rec r;
    open_log();
    message_record(&r, 2, 1, false, "x/max", NULL, 0, "max");
    put_message_key(UINT64_MAX, &r);
    message_record(&r, 2, 1, false, "x/one", NULL, 0, "one");
    put_message_key(1, &r);
    session_head(&r, 2, NE_MQTT_V311, UINT32_MAX, 1, 1);
    session_filter(&r, "x.>", 1);
    session_queued(&r, 1, 1);
    session_will(&r, 0, 0);
    put_record('s', "a", 1, &r);
    close_log();
    boot();

    int pub = connect_as(NE_MQTT_V311, "pub", true, 0, NULL);
    publish(pub, 1, false, false, "x/two", "two", 1);
    expect_ack(pub, NE_MQTT_PUBACK, 1);
    publish(pub, 1, false, false, "x/three", "three", 2);
    expect_ack(pub, NE_MQTT_PUBACK, 2);
    ne_server_shutdown(&srv);
    boot();

    bool present = false;
    int a = persistent("a", &present);
    assert_true(present);
    expect_publish(a, "x/one", "one", 1, false);
    send_ack(a, NE_MQTT_PUBACK, got.packet_id);
    expect_publish(a, "x/two", "two", 1, false);
    send_ack(a, NE_MQTT_PUBACK, got.packet_id);
    expect_publish(a, "x/three", "three", 1, false);
    send_ack(a, NE_MQTT_PUBACK, got.packet_id);
    expect_nothing(a);
}

/* Transactions count up from 1: a session record whose commit stamp is
 * the last number is dropped at load. Before, it was taken back and the
 * next QoS 2 transaction got number 0, which a message record reads as
 * "no transaction" (committed): a power cut before its PUBREC would not
 * have taken the message back. */
static void test_session_stamp_at_the_last_transaction_is_dropped_M3_39(void **state)
{
    (void)state;
    rec r;
    open_log();
    session_head(&r, 2, NE_MQTT_V311, UINT32_MAX, 1, 0);
    assert_int_equal(r.len, 32);
    memset(r.b + 24, 0xff, 8); /* the commit stamp: the head's last 8 bytes */
    session_filter(&r, "y.>", 1);
    session_will(&r, 0, 0);
    put_record('s', "stamped", 7, &r);
    close_log();
    boot();

    bool present = true;
    int c = persistent("stamped", &present);
    assert_false(present);
    go_offline(c);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_crash_keeps_sessions_messages_and_retained_M3_32_MQ_20),
        T(test_restart_forgets_what_ended_M3_31_M3_52),
        T(test_session_expiry_after_restart_M5_19),
        T(test_pending_will_survives_restart_M5_23),
        T(test_power_cut_loses_nothing_acknowledged_M3_37),
        T(test_power_cut_behind_a_write_cache_M3_37),
        T(test_power_cut_qos2_exactly_once_to_subscriber_M3_39),
        T(test_power_cut_qos2_exactly_once_from_publisher_M3_39),
        T(test_format_1_records_load_after_upgrade_M3_32),
        T(test_loaded_message_not_a_valid_publish_is_dropped),
        T(test_loaded_will_with_oversized_properties_is_dropped_M5_23),
        T(test_retained_record_of_another_topic_is_dropped_M3_51),
        T(test_message_id_at_the_last_is_dropped_ids_do_not_wrap),
        T(test_session_stamp_at_the_last_transaction_is_dropped_M3_39),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
