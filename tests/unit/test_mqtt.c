/* The MQTT connection kind end to end over the simulated network
 * (port/sim): CONNECT and its refusals, QoS 0/1/2 both ways, sessions,
 * takeover, wills, keep-alive, retained messages, topic <-> subject with
 * NATS clients, MQTT 5's properties and limits. Time is the simulated
 * clock. After each test the server is shut down and every pool must be
 * back to idle. IDs refer to shared/reference/mqtt-inventory.md (M3-, M5-,
 * MB-) and nats-inventory.md (MQ-). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "mqtt/ne_mqtt_codec.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_net.h"

#define B(s) ((ne_mqtt_bytes){(const uint8_t *)(s), (uint32_t)strlen(s)})

static ne_server srv;
static ne_sim_net sim;
static uint16_t nats_port;
static uint16_t mqtt_port;

/* What each simulated client has received and not yet taken. */
typedef struct rx_buf {
    uint8_t data[NE_SIM_BUFFER_BYTES];
    size_t len;
} rx_buf;
static rx_buf rx[NE_SIM_MAX_SOCKETS];
static uint8_t out[1 << 18];

static void step(int n)
{
    ne_loop loop;
    ne_server_loop(&srv, &loop);
    for (int i = 0; i < n; i++) {
        ne_sim_net_step(&sim, &loop);
    }
}

/* Advances the simulated clock in ticks, letting the server run. */
static void advance(uint64_t ms)
{
    for (uint64_t t = 0; t < ms; t += 100) {
        ne_sim_clock_advance(100);
        step(1);
    }
}

static void start(void (*tweak)(ne_server_options *))
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    memset(rx, 0, sizeof(rx));
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.mqtt.enabled = true;
    opts.mqtt.port = 0;
    if (tweak != NULL) {
        tweak(&opts);
    }
    assert_int_equal(ne_server_init(&srv, &opts, &net, NULL), NE_OK);
    assert_int_equal(ne_server_start(&srv), NE_OK);
    nats_port = ne_server_client_port(&srv);
    mqtt_port = ne_server_mqtt_port(&srv);
    assert_true(mqtt_port != 0);
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

static void pull(int c)
{
    rx_buf *r = &rx[c];
    r->len += ne_sim_client_read(&sim, c, r->data + r->len, sizeof(r->data) - r->len);
}

/* The next whole packet the server sent to c, after stepping the server;
 * false when there is none. */
static bool next(int c, pkt *out_pkt)
{
    step(2);
    pull(c);
    rx_buf *r = &rx[c];
    uint8_t first;
    uint32_t rl, hl;
    if (ne_mqtt_fixed_header(r->data, r->len, &first, &rl, &hl) != NE_OK || hl + rl > r->len) {
        return false;
    }
    out_pkt->first = first;
    out_pkt->len = rl;
    memcpy(out_pkt->body, r->data + hl, rl);
    memmove(r->data, r->data + hl + rl, r->len - hl - rl);
    r->len -= hl + rl;
    return true;
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

static bool closed(int c)
{
    step(3);
    return ne_sim_server_closed(&sim, c);
}

typedef struct conn_opts {
    uint8_t version;
    const char *id;
    bool clean;
    uint16_t keep_alive;
    const char *user;
    const char *pass;
    const char *will_topic;
    const char *will_payload;
    uint8_t will_qos;
    bool will_retain;
    const ne_mqtt_props *props;
    const ne_mqtt_props *will_props;
} conn_opts;

static int open_client(void)
{
    int c = ne_sim_connect(&sim, mqtt_port);
    assert_true(c >= 0);
    rx[c].len = 0;
    step(1);
    return c;
}

static void send_connect(int c, const conn_opts *o)
{
    ne_mqtt_props_out po = {o->props, {NULL, 0}, NULL, 0};
    ne_mqtt_props_out wpo = {o->will_props, {NULL, 0}, NULL, 0};
    ne_mqtt_connect_out co;
    memset(&co, 0, sizeof(co));
    co.level = o->version != 0 ? o->version : NE_MQTT_V311;
    co.clean_start = o->clean;
    co.keep_alive_s = o->keep_alive;
    co.props = &po;
    co.client_id = B(o->id != NULL ? o->id : "");
    if (o->will_topic != NULL) {
        co.will = true;
        co.will_topic = B(o->will_topic);
        co.will_payload = B(o->will_payload != NULL ? o->will_payload : "");
        co.will_qos = o->will_qos;
        co.will_retain = o->will_retain;
        co.will_props = &wpo;
    }
    if (o->user != NULL) {
        co.has_user = true;
        co.user = B(o->user);
    }
    if (o->pass != NULL) {
        co.has_password = true;
        co.password = B(o->pass);
    }
    size_t n = ne_mqtt_encode_connect(out, sizeof(out), &co);
    assert_true(n > 0);
    send_bytes(c, out, n);
}

/* Connects and expects CONNACK with return code rc; returns the client. */
static int connect_rc(const conn_opts *o, uint8_t rc, bool *present)
{
    int c = open_client();
    send_connect(c, o);
    expect(c, NE_MQTT_CONNACK);
    ne_mqtt_connack ca;
    uint8_t reason;
    uint8_t version = o->version != 0 ? o->version : NE_MQTT_V311;
    assert_int_equal(ne_mqtt_decode_connack(p.body, p.len, version, &ca, &reason), NE_OK);
    assert_int_equal(ca.reason, rc);
    if (present != NULL) {
        *present = ca.session_present;
    }
    return c;
}

static int mqtt3(const char *id)
{
    conn_opts o = {NE_MQTT_V311, id, true, 0, NULL, NULL, NULL, NULL, 0, false, NULL, NULL};
    return connect_rc(&o, 0, NULL);
}

static int mqtt5(const char *id)
{
    conn_opts o = {NE_MQTT_V5, id, true, 0, NULL, NULL, NULL, NULL, 0, false, NULL, NULL};
    return connect_rc(&o, 0, NULL);
}

static int persistent(uint8_t version, const char *id, bool *present)
{
    ne_mqtt_props props;
    memset(&props, 0, sizeof(props));
    props.present = NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY);
    props.session_expiry = 0xffffffffu;
    conn_opts o = {version,
                   id,
                   false,
                   0,
                   NULL,
                   NULL,
                   NULL,
                   NULL,
                   0,
                   false,
                   version == NE_MQTT_V5 ? &props : NULL,
                   NULL};
    return connect_rc(&o, 0, present);
}

static void subscribe_opts(int c, uint8_t version, uint16_t id, const char *filter,
                           ne_mqtt_sub_options o, uint32_t sub_id, uint8_t want)
{
    ne_mqtt_bytes f = B(filter);
    ne_mqtt_props_out po = {NULL, {NULL, 0}, &sub_id, sub_id != 0 ? 1u : 0u};
    size_t n = ne_mqtt_encode_subscribe(out, sizeof(out), version, id, &po, &f, &o, 1);
    send_bytes(c, out, n);
    expect(c, NE_MQTT_SUBACK);
    ne_mqtt_suback sa;
    uint8_t reason;
    assert_int_equal(ne_mqtt_decode_suback(p.first, p.body, p.len, version, &sa, &reason), NE_OK);
    assert_int_equal(sa.packet_id, id);
    assert_int_equal(sa.codes.len, 1);
    assert_int_equal(sa.codes.ptr[0], want);
}

static void subscribe(int c, uint8_t version, const char *filter, uint8_t qos)
{
    ne_mqtt_sub_options o = {qos, false, false, 0};
    subscribe_opts(c, version, 1, filter, o, 0, qos);
}

static void publish_props(int c, uint8_t version, uint8_t qos, bool retain, const char *topic,
                          const char *payload, uint16_t id, const ne_mqtt_props_out *props)
{
    uint8_t first = (uint8_t)(0x30 | (qos << 1) | (retain ? 1 : 0));
    size_t len = strlen(payload);
    size_t n = ne_mqtt_encode_publish_head(out, sizeof(out), version, first, B(topic), id, props,
                                           (uint32_t)len);
    assert_true(n > 0);
    memcpy(out + n, payload, len);
    send_bytes(c, out, n + len);
}

static void publish(int c, uint8_t version, uint8_t qos, bool retain, const char *topic,
                    const char *payload, uint16_t id)
{
    publish_props(c, version, qos, retain, topic, payload, id, NULL);
}

static ne_mqtt_publish got;

/* Expects a PUBLISH of topic and payload at qos, with RETAIN as given. */
static void expect_publish(int c, uint8_t version, const char *topic, const char *payload,
                           uint8_t qos, bool retain)
{
    expect(c, NE_MQTT_PUBLISH);
    uint8_t reason;
    assert_int_equal(
        ne_mqtt_decode_publish(p.first, p.body, p.len, p.len, version, false, &got, &reason),
        NE_OK);
    if (got.topic.len != strlen(topic) || memcmp(got.topic.ptr, topic, got.topic.len) != 0) {
        fail_msg("topic %.*s, want %s", (int)got.topic.len, got.topic.ptr, topic);
    }
    assert_int_equal(got.payload_len, strlen(payload));
    assert_memory_equal(got.payload, payload, got.payload_len);
    assert_int_equal(got.qos, qos);
    assert_int_equal(got.retain, retain);
}

static void send_ack(int c, uint8_t version, ne_mqtt_type type, uint16_t id)
{
    size_t n = ne_mqtt_encode_ack(out, sizeof(out), version, type, id, 0, NULL);
    send_bytes(c, out, n);
}

static void expect_ack(int c, uint8_t version, ne_mqtt_type type, uint16_t id, uint8_t reason)
{
    expect(c, type);
    ne_mqtt_ack a;
    uint8_t r;
    assert_int_equal(ne_mqtt_decode_ack(p.body, p.len, version, &a, &r), NE_OK);
    assert_int_equal(a.packet_id, id);
    assert_int_equal(a.reason, reason);
}

/* A v5 DISCONNECT with this reason, then the close. */
static void expect_disconnect(int c, uint8_t reason)
{
    expect(c, NE_MQTT_DISCONNECT);
    assert_true(p.len >= 1);
    assert_int_equal(p.body[0], reason);
    assert_true(closed(c));
}

static void disconnect(int c)
{
    static const uint8_t d[] = {0xe0, 0x00};
    send_bytes(c, d, 2);
    step(3);
}

/* ---- A NATS client ------------------------------------------------------------------ */

static char text[NE_SIM_BUFFER_BYTES + 1];

static const char *nats_take(int c)
{
    step(3);
    size_t n = ne_sim_client_read(&sim, c, text, sizeof(text) - 1);
    text[n] = '\0';
    return text;
}

static int nats_client(void)
{
    int c = ne_sim_connect(&sim, nats_port);
    assert_true(c >= 0);
    step(2);
    nats_take(c);
    static const char connect[] = "CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,"
                                  "\"headers\":true}\r\n";
    ne_sim_client_write(&sim, c, connect, sizeof(connect) - 1);
    step(2);
    return c;
}

static void nats_send(int c, const char *t)
{
    assert_int_equal(ne_sim_client_write(&sim, c, t, strlen(t)), strlen(t));
    step(3);
}

/* ---- CONNECT ---------------------------------------------------------------------------- */

static void test_connack_v3_new_and_resumed_MQ_06_MB_03(void **state)
{
    (void)state;
    bool present = true;
    int c = persistent(NE_MQTT_V311, "dev1", &present);
    assert_false(present);
    subscribe(c, NE_MQTT_V311, "a/b", 1);
    disconnect(c);
    assert_true(ne_sim_server_closed(&sim, c));
    c = persistent(NE_MQTT_V311, "dev1", &present);
    assert_true(present);
    disconnect(c);
    /* Clean session 1 discards it (M3-30). */
    conn_opts o = {NE_MQTT_V311, "dev1", true, 0, NULL, NULL, NULL, NULL, 0, false, NULL, NULL};
    c = connect_rc(&o, 0, &present);
    assert_false(present);
}

static void test_first_packet_must_be_connect_M3_05(void **state)
{
    (void)state;
    int c = open_client();
    static const uint8_t ping[] = {0xc0, 0x00};
    send_bytes(c, ping, 2);
    assert_true(closed(c));
    expect_nothing(c);
    /* A second CONNECT is a protocol error: 5.0 is told 0x82. */
    c = mqtt5("twice");
    conn_opts o = {NE_MQTT_V5, "twice", true, 0, NULL, NULL, NULL, NULL, 0, false, NULL, NULL};
    send_connect(c, &o);
    expect_disconnect(c, NE_MQTT_RC_PROTOCOL_ERROR);
}

static void test_bad_level_gets_v3_connack_1_MQ_01_MB_04(void **state)
{
    (void)state;
    for (uint8_t level = 3; level <= 6; level += 3) {
        int c = open_client();
        static uint8_t connect[] = {0x10, 0x0d, 0x00, 0x04, 'M',  'Q',  'T', 'T',
                                    0x03, 0x02, 0x00, 0x3c, 0x00, 0x01, 'x'};
        connect[8] = level;
        send_bytes(c, connect, sizeof(connect));
        expect(c, NE_MQTT_CONNACK);
        assert_int_equal(p.len, 2);
        assert_int_equal(p.body[1], NE_MQTT_V3_BAD_VERSION);
        assert_true(closed(c));
    }
    /* MQIsdp (3.1): closed without CONNACK, as nats-server does. */
    int c = open_client();
    static const uint8_t v31[] = {0x10, 0x0f, 0x00, 0x06, 'M',  'Q',  'I',  's', 'd',
                                  'p',  0x03, 0x02, 0x00, 0x3c, 0x00, 0x01, 'x'};
    send_bytes(c, v31, sizeof(v31));
    assert_true(closed(c));
    expect_nothing(c);
}

static void test_empty_client_id_assigned_or_refused_M3_23_MB_02(void **state)
{
    (void)state;
    conn_opts o = {NE_MQTT_V311, "", false, 0, NULL, NULL, NULL, NULL, 0, false, NULL, NULL};
    int c = connect_rc(&o, NE_MQTT_V3_ID_REJECTED, NULL);
    assert_true(closed(c));
    o.clean = true;
    c = connect_rc(&o, 0, NULL);
    assert_false(closed(c));
    /* 5.0: assigned whatever Clean Start says, and told (M5-44). */
    o.version = NE_MQTT_V5;
    o.clean = false;
    c = open_client();
    send_connect(c, &o);
    expect(c, NE_MQTT_CONNACK);
    ne_mqtt_connack ca;
    uint8_t reason;
    assert_int_equal(ne_mqtt_decode_connack(p.body, p.len, NE_MQTT_V5, &ca, &reason), NE_OK);
    assert_int_equal(ca.reason, 0);
    assert_true((ca.props.present & NE_MQTT_HAS(NE_MQTT_PROP_ASSIGNED_CLIENT_ID)) != 0);
    assert_int_equal(ca.props.assigned_client_id.len, 22);
    assert_true((ca.props.present & NE_MQTT_HAS(NE_MQTT_PROP_RECEIVE_MAXIMUM)) != 0);
    assert_int_equal(ca.props.receive_maximum, NE_MQTT_MAX_INBOUND_QOS2);
    assert_int_equal(ca.props.maximum_packet_size, NE_MAX_PAYLOAD_BYTES);
    assert_int_equal(ca.props.topic_alias_maximum, NE_MQTT_TOPIC_ALIAS_MAX);
}

static void with_auth(ne_server_options *o)
{
    memcpy(o->auth_user, "alice", 6);
    memcpy(o->auth_pass, "secret", 7);
}

static void test_authentication_failure_is_connack_5_MQ_06_MQ_07(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(with_auth);
    conn_opts o = {NE_MQTT_V311, "a", true, 0, "alice", "wrong", NULL, NULL, 0, false, NULL, NULL};
    int c = connect_rc(&o, NE_MQTT_V3_NOT_AUTHORIZED, NULL);
    assert_true(closed(c));
    o.user = NULL;
    o.pass = NULL;
    c = connect_rc(&o, NE_MQTT_V3_NOT_AUTHORIZED, NULL);
    assert_true(closed(c));
    o.user = "";
    o.pass = "x";
    c = connect_rc(&o, NE_MQTT_V3_BAD_USER_OR_PASSWORD, NULL);
    o.user = "alice";
    o.pass = "secret";
    c = connect_rc(&o, 0, NULL);
    assert_false(closed(c));
    o.version = NE_MQTT_V5;
    o.pass = "nope";
    c = connect_rc(&o, NE_MQTT_RC_NOT_AUTHORIZED, NULL);
    assert_true(closed(c));
}

static void with_mqtt_token(ne_server_options *o)
{
    memcpy(o->mqtt.auth_token, "tok", 4);
}

static void test_mqtt_authorization_overrides_and_token_is_the_password_MQ_25(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(with_mqtt_token);
    conn_opts o = {NE_MQTT_V311, "a", true, 0, "any", "tok", NULL, NULL, 0, false, NULL, NULL};
    int c = connect_rc(&o, 0, NULL);
    assert_false(closed(c));
    o.pass = "bad";
    c = connect_rc(&o, NE_MQTT_V3_NOT_AUTHORIZED, NULL);
    /* NATS clients are not concerned: no authorization for them. */
    int n = nats_client();
    nats_send(n, "PING\r\n");
    assert_non_null(strstr(nats_take(n), "PONG"));
}

static void test_auth_method_refused_with_0x8c_M5_46_MB_08(void **state)
{
    (void)state;
    ne_mqtt_props props;
    memset(&props, 0, sizeof(props));
    props.present = NE_MQTT_HAS(NE_MQTT_PROP_AUTH_METHOD);
    props.auth_method = B("SCRAM-SHA-1");
    conn_opts o = {NE_MQTT_V5, "a", true, 0, NULL, NULL, NULL, NULL, 0, false, &props, NULL};
    int c = connect_rc(&o, NE_MQTT_RC_BAD_AUTH_METHOD, NULL);
    assert_true(closed(c));
    /* AUTH after a CONNECT without a method: protocol error. */
    c = mqtt5("b");
    uint8_t auth_pkt[64];
    props.present = NE_MQTT_HAS(NE_MQTT_PROP_AUTH_METHOD);
    ne_mqtt_props_out po = {&props, {NULL, 0}, NULL, 0};
    size_t n = ne_mqtt_encode_auth(auth_pkt, sizeof(auth_pkt), NE_MQTT_RC_REAUTHENTICATE, &po);
    send_bytes(c, auth_pkt, n);
    expect_disconnect(c, NE_MQTT_RC_PROTOCOL_ERROR);
}

/* ---- Publish and subscribe, with NATS ------------------------------------------------------ */

static void test_qos0_and_nats_share_subjects_MQ_12c_MQ_13_MQ_17(void **state)
{
    (void)state;
    int sub = mqtt3("sub");
    subscribe(sub, NE_MQTT_V311, "a/+", 0);
    int n = nats_client();
    nats_send(n, "SUB a.* 1\r\nSUB a.> 2\r\n");
    int pub = mqtt3("pub");
    publish(pub, NE_MQTT_V311, 0, false, "a/b", "hi", 0);
    expect_publish(sub, NE_MQTT_V311, "a/b", "hi", 0, false);
    /* NATS subscribers get nats-server's header (HMSG with headers). */
    const char *t = nats_take(n);
    assert_non_null(strstr(t, "HMSG a.b 1 "));
    assert_non_null(strstr(t, "NATS/1.0\r\nNmqtt-Pub:0\r\n\r\nhi\r\n"));
    /* A NATS publish reaches MQTT subscribers as QoS 0 (MQ-12b). */
    nats_send(n, "PUB a.c 5\r\nhello\r\n");
    expect_publish(sub, NE_MQTT_V311, "a/c", "hello", 0, false);
    /* '.' in a topic is "//" in its subject (MQ-16, 2.10). */
    nats_send(n, "SUB x//y 3\r\n");
    publish(pub, NE_MQTT_V311, 0, false, "x.y", "dot", 0);
    assert_non_null(strstr(nats_take(n), "HMSG x//y 3 "));
    /* White space cannot be mapped: a 3.1.1 client is closed (MQ-16). */
    publish(pub, NE_MQTT_V311, 0, false, "a b", "x", 0);
    assert_true(closed(pub));
}

static void test_wildcard_publish_and_bad_packets_close_MQ_15_M3_03_M3_16(void **state)
{
    (void)state;
    int c = mqtt3("w");
    publish(c, NE_MQTT_V311, 0, false, "a/+", "x", 0);
    assert_true(closed(c));
    c = mqtt5("w5");
    publish(c, NE_MQTT_V5, 0, false, "a/#", "x", 0);
    expect_disconnect(c, NE_MQTT_RC_TOPIC_NAME_INVALID);
    /* QoS 3. */
    c = mqtt5("q3");
    static const uint8_t q3[] = {0x36, 0x06, 0x00, 0x01, 'a', 0x00, 0x01, 0x00};
    send_bytes(c, q3, sizeof(q3));
    expect_disconnect(c, NE_MQTT_RC_MALFORMED);
    /* Packet id 0 (M3-16). */
    c = mqtt3("id0");
    static const uint8_t id0[] = {0x32, 0x05, 0x00, 0x01, 'a', 0x00, 0x00};
    send_bytes(c, id0, sizeof(id0));
    assert_true(closed(c));
    /* SUBSCRIBE with wrong flags (M3-02, MQ-12a). */
    c = mqtt3("sf");
    static const uint8_t sf[] = {0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 'a', 0x00};
    send_bytes(c, sf, sizeof(sf));
    assert_true(closed(c));
    /* A Remaining Length with a fifth byte (M3-07). */
    c = mqtt3("rl");
    static const uint8_t rl[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
    send_bytes(c, rl, sizeof(rl));
    assert_true(closed(c));
}

static void test_qos1_puback_and_min_qos_M3_37_M3_42(void **state)
{
    (void)state;
    int sub0 = mqtt3("s0");
    subscribe(sub0, NE_MQTT_V311, "t/#", 0);
    int sub1 = mqtt3("s1");
    subscribe(sub1, NE_MQTT_V311, "t/#", 1);
    int pub = mqtt3("p");
    publish(pub, NE_MQTT_V311, 1, false, "t/1", "one", 7);
    expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBACK, 7, 0);
    expect_publish(sub0, NE_MQTT_V311, "t/1", "one", 0, false);
    expect_publish(sub1, NE_MQTT_V311, "t/1", "one", 1, false);
    assert_int_equal(got.packet_id, 1);
    send_ack(sub1, NE_MQTT_V311, NE_MQTT_PUBACK, got.packet_id);
    step(2);
    /* 5.0: 0x10 when nobody matched (MB-16). */
    int p5 = mqtt5("p5");
    publish(p5, NE_MQTT_V5, 1, false, "nobody/here", "x", 3);
    expect_ack(p5, NE_MQTT_V5, NE_MQTT_PUBACK, 3, NE_MQTT_RC_NO_MATCHING_SUBSCRIBERS);
}

static void test_qos1_redelivered_with_dup_after_reconnect_M3_40_MB_27(void **state)
{
    (void)state;
    int sub = persistent(NE_MQTT_V311, "r1", NULL);
    subscribe(sub, NE_MQTT_V311, "r/x", 1);
    int pub = mqtt3("rp");
    publish(pub, NE_MQTT_V311, 1, false, "r/x", "m1", 1);
    expect_publish(sub, NE_MQTT_V311, "r/x", "m1", 1, false);
    uint16_t id = got.packet_id;
    assert_false(got.dup);
    /* Gone without acknowledging; one more arrives while it is away. */
    ne_sim_client_close(&sim, sub);
    step(3);
    publish(pub, NE_MQTT_V311, 1, false, "r/x", "m2", 2);
    step(3);
    bool present = false;
    sub = persistent(NE_MQTT_V311, "r1", &present);
    assert_true(present);
    expect_publish(sub, NE_MQTT_V311, "r/x", "m1", 1, false);
    assert_true(got.dup);
    assert_int_equal(got.packet_id, id);
    expect_publish(sub, NE_MQTT_V311, "r/x", "m2", 1, false);
    assert_false(got.dup);
    send_ack(sub, NE_MQTT_V311, NE_MQTT_PUBACK, id);
    send_ack(sub, NE_MQTT_V311, NE_MQTT_PUBACK, got.packet_id);
    step(2);
    disconnect(sub);
    sub = persistent(NE_MQTT_V311, "r1", &present);
    expect_nothing(sub);
}

static void test_qos2_inbound_exactly_once_across_reconnect_M3_39_MB_18(void **state)
{
    (void)state;
    int sub = mqtt3("q2s");
    subscribe(sub, NE_MQTT_V311, "q2/#", 2);
    int pub = persistent(NE_MQTT_V311, "q2p", NULL);
    publish(pub, NE_MQTT_V311, 2, false, "q2/a", "once", 5);
    expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBREC, 5, 0);
    expect_publish(sub, NE_MQTT_V311, "q2/a", "once", 2, false);
    send_ack(sub, NE_MQTT_V311, NE_MQTT_PUBREC, got.packet_id);
    expect_ack(sub, NE_MQTT_V311, NE_MQTT_PUBREL, got.packet_id, 0);
    send_ack(sub, NE_MQTT_V311, NE_MQTT_PUBCOMP, got.packet_id);
    /* The same id again before PUBREL: PUBREC, no second delivery. */
    publish(pub, NE_MQTT_V311, 2, false, "q2/a", "once", 5);
    expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBREC, 5, 0);
    expect_nothing(sub);
    /* Across a reconnect: resent with DUP, still once. */
    ne_sim_client_close(&sim, pub);
    step(3);
    pub = persistent(NE_MQTT_V311, "q2p", NULL);
    uint8_t dup_first = 0x30 | (2 << 1) | NE_MQTT_FLAG_DUP;
    size_t n = ne_mqtt_encode_publish_head(out, sizeof(out), NE_MQTT_V311, dup_first, B("q2/a"), 5,
                                           NULL, 4);
    memcpy(out + n, "once", 4);
    send_bytes(pub, out, n + 4);
    expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBREC, 5, 0);
    expect_nothing(sub);
    send_ack(pub, NE_MQTT_V311, NE_MQTT_PUBREL, 5);
    expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBCOMP, 5, 0);
    /* Released: the id is a new message now. */
    publish(pub, NE_MQTT_V311, 2, false, "q2/a", "again", 5);
    expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBREC, 5, 0);
    expect_publish(sub, NE_MQTT_V311, "q2/a", "again", 2, false);
}

/* An idle session holds neither an inbound QoS 2 table nor a long client
 * id slot: a client id of up to NE_MQTT_INLINE_CLIENT_ID_BYTES is kept in
 * the session, a longer one in a slot held for the session's life; the
 * table is taken by the first QoS 2 PUBLISH and given back by the PUBREL
 * that releases its last id (docs/performance.md, "Idle MQTT connections"). */
static void test_idle_session_holds_no_inbound_table_and_no_long_id_M3_23_M3_39(void **state)
{
    (void)state;
    char id23[24];
    memset(id23, 'a', 23);
    id23[23] = '\0';
    int a = mqtt3(id23);
#if NE_CONN_PARKING
    /* Idle, it is parked: its session's slot is kept for it. */
    assert_int_equal(srv.mqtt.session_pool.in_use + srv.mqtt.parked_sessions, 1);
#else
    assert_int_equal(srv.mqtt.session_pool.in_use, 1);
#endif
    assert_int_equal(srv.mqtt.long_id_pool.in_use, 0);
    assert_int_equal(srv.mqtt.inbound_pool.in_use, 0);
    char id40[41];
    memset(id40, 'b', 40);
    id40[40] = '\0';
    int b = persistent(NE_MQTT_V311, id40, NULL);
    assert_int_equal(srv.mqtt.long_id_pool.in_use, 1);
    assert_int_equal(srv.mqtt.inbound_pool.in_use, 0);
    /* The long id is found again on reconnect (the session is resumed). */
    ne_sim_client_close(&sim, b);
    step(3);
    bool present = false;
    b = persistent(NE_MQTT_V311, id40, &present);
    assert_true(present);
    assert_int_equal(srv.mqtt.long_id_pool.in_use, 1);
    /* Two QoS 2 messages take one table; it goes back with the last PUBREL. */
    subscribe(a, NE_MQTT_V311, "lazy/#", 2);
    publish(b, NE_MQTT_V311, 2, false, "lazy/x", "one", 7);
    expect_ack(b, NE_MQTT_V311, NE_MQTT_PUBREC, 7, 0);
    publish(b, NE_MQTT_V311, 2, false, "lazy/x", "two", 8);
    expect_ack(b, NE_MQTT_V311, NE_MQTT_PUBREC, 8, 0);
    assert_int_equal(srv.mqtt.inbound_pool.in_use, 1);
    send_ack(b, NE_MQTT_V311, NE_MQTT_PUBREL, 7);
    expect_ack(b, NE_MQTT_V311, NE_MQTT_PUBCOMP, 7, 0);
    assert_int_equal(srv.mqtt.inbound_pool.in_use, 1);
    send_ack(b, NE_MQTT_V311, NE_MQTT_PUBREL, 8);
    expect_ack(b, NE_MQTT_V311, NE_MQTT_PUBCOMP, 8, 0);
    assert_int_equal(srv.mqtt.inbound_pool.in_use, 0);
    /* A session ended with an id unreleased gives its table back, and its
     * long id slot. */
    publish(b, NE_MQTT_V311, 2, false, "lazy/x", "three", 9);
    expect_ack(b, NE_MQTT_V311, NE_MQTT_PUBREC, 9, 0);
    assert_int_equal(srv.mqtt.inbound_pool.in_use, 1);
    ne_sim_client_close(&sim, b);
    step(3);
    b = connect_rc(&(conn_opts){.version = NE_MQTT_V311, .id = id40, .clean = true}, 0, NULL);
    assert_int_equal(srv.mqtt.inbound_pool.in_use, 0);
    assert_int_equal(srv.mqtt.long_id_pool.in_use, 1);
    disconnect(b);
    step(3);
    assert_int_equal(srv.mqtt.long_id_pool.in_use, 0);
    /* Delivered once each. */
    expect_publish(a, NE_MQTT_V311, "lazy/x", "one", 2, false);
}

#if NE_CONN_PARKING
/* An idle client is parked: its header, I/O part, client and session (and
 * the session's internal client) go back to their pools, kept reserved,
 * and a parked record holds what it needs; a packet brings everything
 * back as it was, and it parks again once idle. */
static void test_idle_client_parks_and_comes_back_M3_24(void **state)
{
    (void)state;
    uint32_t headers = srv.conns.conn_pool.in_use;
    int c = mqtt3("parker");
    assert_int_equal(srv.conns.parked, 1);
    assert_int_equal(srv.conns.parked_pool.in_use, 1);
    assert_int_equal(srv.conns.conn_pool.in_use, headers);
    assert_int_equal(srv.mqtt.client_pool.in_use, 0);
    assert_int_equal(srv.mqtt.session_pool.in_use, 0);
    assert_int_equal(srv.mqtt.parked_clients, 1);
    assert_int_equal(srv.mqtt.parked_sessions, 1);
    assert_int_equal(srv.conns.internal_reserved, 1);
    assert_int_equal(ne_mqtt_client_count(&srv.mqtt), 1);
    static const uint8_t ping[] = {0xc0, 0x00};
    send_bytes(c, ping, 2);
    step(3);
    assert_true(next(c, &p));
    assert_int_equal(p.first, 0xd0);
    assert_int_equal(srv.conns.parked, 1);
    assert_int_equal(srv.conns.conn_pool.in_use, headers);
    /* A subscriber is not parked: its session holds a filter. */
    subscribe(c, NE_MQTT_V311, "park/#", 0);
    assert_int_equal(srv.conns.parked, 0);
    assert_int_equal(srv.mqtt.session_pool.in_use, 1);
    conn_opts o = {NE_MQTT_V311, "parked-pub", true, 2,     NULL, NULL,
                   NULL,         NULL,         0,    false, NULL, NULL};
    int pub = connect_rc(&o, 0, NULL);
    assert_int_equal(srv.conns.parked, 1);
    publish(pub, NE_MQTT_V311, 0, false, "park/x", "hi", 0);
    expect_publish(c, NE_MQTT_V311, "park/x", "hi", 0, false);
    assert_int_equal(srv.conns.parked, 1);
    /* Past one and a half times its keep-alive (2 s) it is closed. */
    advance(2000);
    assert_int_equal(srv.conns.parked, 1);
    advance(1200);
    assert_true(closed(pub));
    assert_int_equal(srv.conns.parked, 0);
    assert_int_equal(srv.conns.parked_pool.in_use, 1); /* the subscriber's */
    assert_int_equal(srv.mqtt.parked_sessions, 0);
    assert_int_equal(srv.conns.internal_reserved, 0);
}
#endif

static void test_qos2_outbound_pubrel_resent_after_reconnect_M3_38_MB_27(void **state)
{
    (void)state;
    int sub = persistent(NE_MQTT_V5, "o2", NULL);
    subscribe(sub, NE_MQTT_V5, "o2/#", 2);
    int pub = mqtt5("o2p");
    publish(pub, NE_MQTT_V5, 2, false, "o2/x", "msg", 9);
    expect_ack(pub, NE_MQTT_V5, NE_MQTT_PUBREC, 9, 0);
    expect_publish(sub, NE_MQTT_V5, "o2/x", "msg", 2, false);
    uint16_t id = got.packet_id;
    send_ack(sub, NE_MQTT_V5, NE_MQTT_PUBREC, id);
    expect_ack(sub, NE_MQTT_V5, NE_MQTT_PUBREL, id, 0);
    /* Gone before PUBCOMP: only the PUBREL is sent again (M3-40). */
    ne_sim_client_close(&sim, sub);
    step(3);
    bool present = false;
    sub = persistent(NE_MQTT_V5, "o2", &present);
    assert_true(present);
    expect_ack(sub, NE_MQTT_V5, NE_MQTT_PUBREL, id, 0);
    expect_nothing(sub);
    send_ack(sub, NE_MQTT_V5, NE_MQTT_PUBCOMP, id);
    step(2);
    /* A PUBREC for an id never sent: PUBREL 0x92 (5.0). */
    send_ack(sub, NE_MQTT_V5, NE_MQTT_PUBREC, 999);
    expect_ack(sub, NE_MQTT_V5, NE_MQTT_PUBREL, 999, NE_MQTT_RC_PACKET_ID_NOT_FOUND);
    /* A PUBREL for an unknown id: PUBCOMP 0x92. */
    send_ack(pub, NE_MQTT_V5, NE_MQTT_PUBREL, 77);
    expect_ack(pub, NE_MQTT_V5, NE_MQTT_PUBCOMP, 77, NE_MQTT_RC_PACKET_ID_NOT_FOUND);
}

static void test_receive_maximum_of_the_client_is_respected_M5_25_MB_21(void **state)
{
    (void)state;
    ne_mqtt_props props;
    memset(&props, 0, sizeof(props));
    props.present = NE_MQTT_HAS(NE_MQTT_PROP_RECEIVE_MAXIMUM);
    props.receive_maximum = 1;
    conn_opts o = {NE_MQTT_V5, "rm1", true, 0, NULL, NULL, NULL, NULL, 0, false, &props, NULL};
    int sub = connect_rc(&o, 0, NULL);
    subscribe(sub, NE_MQTT_V5, "rm/#", 1);
    int pub = mqtt5("rmp");
    publish(pub, NE_MQTT_V5, 1, false, "rm/a", "1", 1);
    publish(pub, NE_MQTT_V5, 1, false, "rm/a", "2", 2);
    expect_publish(sub, NE_MQTT_V5, "rm/a", "1", 1, false);
    expect_nothing(sub);
    send_ack(sub, NE_MQTT_V5, NE_MQTT_PUBACK, got.packet_id);
    expect_publish(sub, NE_MQTT_V5, "rm/a", "2", 1, false);
}

static void test_inbound_qos2_beyond_receive_maximum_is_0x93_M5_26(void **state)
{
    (void)state;
    int pub = mqtt5("flood");
    for (uint16_t id = 1; id <= NE_MQTT_MAX_INBOUND_QOS2; id++) {
        publish(pub, NE_MQTT_V5, 2, false, "f/x", "x", id);
        expect_ack(pub, NE_MQTT_V5, NE_MQTT_PUBREC, id, NE_MQTT_RC_NO_MATCHING_SUBSCRIBERS);
    }
    publish(pub, NE_MQTT_V5, 2, false, "f/x", "x", NE_MQTT_MAX_INBOUND_QOS2 + 1);
    expect_disconnect(pub, NE_MQTT_RC_RECEIVE_MAXIMUM_EXCEEDED);
}

static void test_overlapping_subscriptions_one_copy_highest_qos_M3_49(void **state)
{
    (void)state;
    int sub = mqtt3("ov");
    subscribe(sub, NE_MQTT_V311, "ov/a", 0);
    subscribe(sub, NE_MQTT_V311, "ov/#", 1);
    subscribe(sub, NE_MQTT_V311, "ov/+", 2);
    int pub = mqtt3("ovp");
    publish(pub, NE_MQTT_V311, 2, false, "ov/a", "x", 1);
    expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBREC, 1, 0);
    expect_publish(sub, NE_MQTT_V311, "ov/a", "x", 2, false);
    expect_nothing(sub);
    /* "ov/#" also matches "ov" (MQ-15). */
    publish(pub, NE_MQTT_V311, 0, false, "ov", "parent", 0);
    expect_publish(sub, NE_MQTT_V311, "ov", "parent", 0, false);
}

static void test_dollar_topics_not_matched_by_leading_wildcards_M3_46_MB_36(void **state)
{
    (void)state;
    int all = mqtt3("all");
    subscribe(all, NE_MQTT_V311, "#", 0);
    int plus = mqtt3("plus");
    subscribe(plus, NE_MQTT_V311, "+/x", 0);
    int dollar = mqtt3("dollar");
    subscribe(dollar, NE_MQTT_V311, "$d/#", 0);
    int pub = mqtt3("dp");
    publish(pub, NE_MQTT_V311, 0, false, "$d/x", "d", 0);
    expect_publish(dollar, NE_MQTT_V311, "$d/x", "d", 0, false);
    expect_nothing(all);
    expect_nothing(plus);
}

/* ---- Retained messages ---------------------------------------------------------------------- */

static void test_retained_replayed_on_subscribe_and_deleted_by_empty_M3_51_M3_52_MQ_23(void **state)
{
    (void)state;
    int pub = mqtt3("rp");
    publish(pub, NE_MQTT_V311, 1, true, "ret/a", "kept", 1);
    expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBACK, 1, 0);
    publish(pub, NE_MQTT_V311, 0, true, "ret/b", "also", 0);
    int sub = mqtt3("rs");
    subscribe(sub, NE_MQTT_V311, "ret/a", 1);
    expect_publish(sub, NE_MQTT_V311, "ret/a", "kept", 1, true);
    send_ack(sub, NE_MQTT_V311, NE_MQTT_PUBACK, got.packet_id);
    /* Live traffic goes without RETAIN to a 3.1.1 client (MQ-12b). */
    publish(pub, NE_MQTT_V311, 0, true, "ret/a", "new", 0);
    expect_publish(sub, NE_MQTT_V311, "ret/a", "new", 0, false);
    /* An empty retained publish deletes, and is delivered (M3-52). */
    publish(pub, NE_MQTT_V311, 0, true, "ret/a", "", 0);
    expect_publish(sub, NE_MQTT_V311, "ret/a", "", 0, false);
    int late = mqtt3("late");
    subscribe(late, NE_MQTT_V311, "ret/#", 0);
    expect_publish(late, NE_MQTT_V311, "ret/b", "also", 0, true);
    expect_nothing(late);
}

static void test_retain_handling_and_retain_as_published_M5_33_M5_34(void **state)
{
    (void)state;
    int pub = mqtt5("rhp");
    publish(pub, NE_MQTT_V5, 0, true, "rh/x", "r", 0);
    int sub = mqtt5("rhs");
    ne_mqtt_sub_options rh0 = {0, false, true, 0};
    subscribe_opts(sub, NE_MQTT_V5, 1, "rh/x", rh0, 0, 0);
    expect_publish(sub, NE_MQTT_V5, "rh/x", "r", 0, true);
    /* Again with RH 0: replayed again; RH 1 on an existing one: not. */
    subscribe_opts(sub, NE_MQTT_V5, 2, "rh/x", rh0, 0, 0);
    expect_publish(sub, NE_MQTT_V5, "rh/x", "r", 0, true);
    ne_mqtt_sub_options rh1 = {0, false, true, 1};
    subscribe_opts(sub, NE_MQTT_V5, 3, "rh/x", rh1, 0, 0);
    expect_nothing(sub);
    ne_mqtt_sub_options rh2 = {0, false, false, 2};
    subscribe_opts(sub, NE_MQTT_V5, 4, "rh/#", rh2, 0, 0);
    expect_nothing(sub);
    /* Retain As Published: live RETAIN kept for "rh/x" (RAP set above? no:
     * the last SUBSCRIBE of rh/x had RAP), not for "rh/#" alone. */
    publish(pub, NE_MQTT_V5, 0, true, "rh/x", "live", 0);
    expect_publish(sub, NE_MQTT_V5, "rh/x", "live", 0, true);
    publish(pub, NE_MQTT_V5, 0, true, "rh/y", "other", 0);
    expect_publish(sub, NE_MQTT_V5, "rh/y", "other", 0, false);
}

/* ---- Sessions, takeover, wills, keep-alive ------------------------------------------------ */

static void test_takeover_closes_the_old_connection_with_0x8e_M3_34_MQ_07(void **state)
{
    (void)state;
    int old = persistent(NE_MQTT_V5, "same", NULL);
    subscribe(old, NE_MQTT_V5, "tk/#", 0);
    bool present = false;
    int fresh = persistent(NE_MQTT_V5, "same", &present);
    assert_true(present);
    expect_disconnect(old, NE_MQTT_RC_SESSION_TAKEN_OVER);
    int pub = mqtt3("tkp");
    publish(pub, NE_MQTT_V311, 0, false, "tk/1", "x", 0);
    expect_publish(fresh, NE_MQTT_V5, "tk/1", "x", 0, false);
    /* 3.1.1: closed without a word. */
    int o3 = mqtt3("same3");
    int n3 = mqtt3("same3");
    assert_true(closed(o3));
    expect_nothing(o3);
    assert_false(closed(n3));
}

static void test_will_on_abnormal_close_not_on_disconnect_M3_35_MQ_09(void **state)
{
    (void)state;
    int watch = mqtt3("watch");
    subscribe(watch, NE_MQTT_V311, "will/#", 1);
    conn_opts o = {NE_MQTT_V311, "dev",  true, 0,     NULL, NULL,
                   "will/dev",   "gone", 1,    false, NULL, NULL};
    int dev = connect_rc(&o, 0, NULL);
    ne_sim_client_close(&sim, dev);
    step(3);
    expect_publish(watch, NE_MQTT_V311, "will/dev", "gone", 1, false);
    send_ack(watch, NE_MQTT_V311, NE_MQTT_PUBACK, got.packet_id);
    dev = connect_rc(&o, 0, NULL);
    disconnect(dev);
    expect_nothing(watch);
    /* 5.0: DISCONNECT 0x04 sends it; a protocol error too (M5-18). */
    o.version = NE_MQTT_V5;
    dev = connect_rc(&o, 0, NULL);
    static const uint8_t d4[] = {0xe0, 0x01, 0x04};
    send_bytes(dev, d4, sizeof(d4));
    step(3);
    expect_publish(watch, NE_MQTT_V311, "will/dev", "gone", 1, false);
    send_ack(watch, NE_MQTT_V311, NE_MQTT_PUBACK, got.packet_id);
    dev = connect_rc(&o, 0, NULL);
    static const uint8_t bad[] = {0x00, 0x00};
    send_bytes(dev, bad, sizeof(bad));
    step(3);
    expect_publish(watch, NE_MQTT_V311, "will/dev", "gone", 1, false);
}

static void test_will_delay_and_reconnect_cancelling_it_M5_23(void **state)
{
    (void)state;
    int watch = mqtt3("watch");
    subscribe(watch, NE_MQTT_V311, "wd/#", 0);
    ne_mqtt_props cp;
    memset(&cp, 0, sizeof(cp));
    cp.present = NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY);
    cp.session_expiry = 60;
    ne_mqtt_props wp;
    memset(&wp, 0, sizeof(wp));
    wp.present = NE_MQTT_HAS(NE_MQTT_PROP_WILL_DELAY);
    wp.will_delay = 2;
    conn_opts o = {NE_MQTT_V5, "wd", false, 0, NULL, NULL, "wd/x", "late", 0, false, &cp, &wp};
    int dev = connect_rc(&o, 0, NULL);
    ne_sim_client_close(&sim, dev);
    step(3);
    expect_nothing(watch);
    advance(1500);
    expect_nothing(watch);
    advance(700);
    expect_publish(watch, NE_MQTT_V311, "wd/x", "late", 0, false);
    /* Back within the delay: no will. */
    dev = connect_rc(&o, 0, NULL);
    ne_sim_client_close(&sim, dev);
    step(3);
    advance(1000);
    dev = connect_rc(&o, 0, NULL);
    advance(3000);
    expect_nothing(watch);
}

static void test_keep_alive_one_and_a_half_times_M3_24_MQ_08(void **state)
{
    (void)state;
    conn_opts o = {NE_MQTT_V5, "ka", true, 2, NULL, NULL, NULL, NULL, 0, false, NULL, NULL};
    int c = connect_rc(&o, 0, NULL);
    advance(2000);
    static const uint8_t ping[] = {0xc0, 0x00};
    send_bytes(c, ping, 2);
    expect(c, NE_MQTT_PINGRESP);
    advance(2800);
    assert_false(closed(c));
    advance(400);
    expect_disconnect(c, NE_MQTT_RC_KEEP_ALIVE_TIMEOUT);
}

static void test_session_expiry_ends_an_offline_session_M5_19(void **state)
{
    (void)state;
    ne_mqtt_props cp;
    memset(&cp, 0, sizeof(cp));
    cp.present = NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY);
    cp.session_expiry = 2;
    conn_opts o = {NE_MQTT_V5, "sx", false, 0, NULL, NULL, NULL, NULL, 0, false, &cp, NULL};
    int c = connect_rc(&o, 0, NULL);
    subscribe(c, NE_MQTT_V5, "sx/#", 1);
    disconnect(c);
    advance(1000);
    bool present = false;
    c = connect_rc(&o, 0, &present);
    assert_true(present);
    disconnect(c);
    advance(2500);
    c = connect_rc(&o, 0, &present);
    assert_false(present);
}

static void test_message_expiry_counts_down_while_queued_M5_40(void **state)
{
    (void)state;
    int sub = persistent(NE_MQTT_V5, "mx", NULL);
    subscribe(sub, NE_MQTT_V5, "mx/#", 1);
    disconnect(sub);
    int pub = mqtt5("mxp");
    ne_mqtt_props e;
    memset(&e, 0, sizeof(e));
    e.present = NE_MQTT_HAS(NE_MQTT_PROP_MESSAGE_EXPIRY);
    e.message_expiry = 10;
    ne_mqtt_props_out po = {&e, {NULL, 0}, NULL, 0};
    publish_props(pub, NE_MQTT_V5, 1, false, "mx/a", "ten", 1, &po);
    e.message_expiry = 2;
    publish_props(pub, NE_MQTT_V5, 1, false, "mx/b", "two", 2, &po);
    step(3);
    advance(3000);
    sub = persistent(NE_MQTT_V5, "mx", NULL);
    expect_publish(sub, NE_MQTT_V5, "mx/a", "ten", 1, false);
    assert_true(got.props.message_expiry <= 7 && got.props.message_expiry >= 6);
    expect_nothing(sub);
}

/* ---- MQTT 5 subscriptions and properties -------------------------------------------------- */

/* A member of a shared subscription whose session ends with QoS 1
 * messages unacknowledged or still queued: they go to another member
 * ([MQTT-4.8.2-5]). */
static void test_shared_subscription_redelivers_when_a_member_ends_M5_36(void **state)
{
    (void)state;
    int a = mqtt5("a");
    subscribe(a, NE_MQTT_V5, "$share/g/sh/#", 1);
    int b = mqtt5("b");
    subscribe(b, NE_MQTT_V5, "$share/g/sh/#", 1);
    int pub = mqtt3("shp");
    char payload[16];
    for (int i = 0; i < 20; i++) {
        snprintf(payload, sizeof(payload), "m%02d", i);
        publish(pub, NE_MQTT_V311, 1, false, "sh/x", payload, (uint16_t)(i + 1));
        expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBACK, (uint16_t)(i + 1), 0);
    }
    bool seen[20] = {false};
    int got_a = 0;
    while (next(a, &p)) { /* a never acknowledges */
        got_a++;
    }
    assert_true(got_a > 0);
    int got_b = 0;
    for (int k = 0; k < 40 && next(b, &p); k++) {
        ne_mqtt_publish pp;
        uint8_t reason;
        assert_int_equal(
            ne_mqtt_decode_publish(p.first, p.body, p.len, p.len, NE_MQTT_V5, false, &pp, &reason),
            NE_OK);
        int i = (pp.payload[1] - '0') * 10 + (pp.payload[2] - '0');
        seen[i] = true;
        got_b++;
        send_ack(b, NE_MQTT_V5, NE_MQTT_PUBACK, pp.packet_id);
    }
    assert_int_equal(got_a + got_b, 20);
    /* a goes (its session with it): what it held reaches b. */
    ne_sim_client_close(&sim, a);
    step(3);
    for (int k = 0; k < 40 && next(b, &p); k++) {
        ne_mqtt_publish pp;
        uint8_t reason;
        assert_int_equal(
            ne_mqtt_decode_publish(p.first, p.body, p.len, p.len, NE_MQTT_V5, false, &pp, &reason),
            NE_OK);
        int i = (pp.payload[1] - '0') * 10 + (pp.payload[2] - '0');
        assert_false(seen[i]);
        seen[i] = true;
        send_ack(b, NE_MQTT_V5, NE_MQTT_PUBACK, pp.packet_id);
    }
    for (int i = 0; i < 20; i++) {
        if (!seen[i]) {
            fail_msg("m%02d never reached b", i);
        }
    }
}

static void test_shared_subscription_one_member_per_message_M5_36_MB_38(void **state)
{
    (void)state;
    int a = mqtt5("a");
    subscribe(a, NE_MQTT_V5, "$share/g/sh/#", 0);
    int b = mqtt3("b");
    subscribe(b, NE_MQTT_V311, "$share/g/sh/#", 0);
    int n = nats_client();
    nats_send(n, "SUB sh.> g 1\r\n");
    nats_take(n);
    int pub = mqtt3("shp");
    for (int i = 0; i < 30; i++) {
        publish(pub, NE_MQTT_V311, 0, false, "sh/x", "m", 0);
    }
    step(3);
    int got_a = 0, got_b = 0;
    while (next(a, &p)) {
        got_a++;
    }
    while (next(b, &p)) {
        got_b++;
    }
    const char *t = nats_take(n);
    int got_n = 0;
    for (const char *s = t; (s = strstr(s, "HMSG")) != NULL; s++) {
        got_n++;
    }
    assert_int_equal(got_a + got_b + got_n, 30);
    /* No retained replay to a shared subscription (M5-37). */
    publish(pub, NE_MQTT_V311, 0, true, "sh/r", "kept", 0);
    step(3);
    while (next(a, &p) || next(b, &p)) {
    }
    nats_take(n);
    int c = mqtt5("c");
    subscribe(c, NE_MQTT_V5, "$share/h/sh/#", 0);
    expect_nothing(c);
    /* No Local on a shared subscription: protocol error (M5-32). */
    ne_mqtt_sub_options nl = {0, true, false, 0};
    ne_mqtt_bytes f = B("$share/g/z");
    size_t len = ne_mqtt_encode_subscribe(out, sizeof(out), NE_MQTT_V5, 9, NULL, &f, &nl, 1);
    send_bytes(c, out, len);
    expect_disconnect(c, NE_MQTT_RC_PROTOCOL_ERROR);
}

static void test_no_local_and_subscription_identifiers_M5_32_M5_35(void **state)
{
    (void)state;
    int c = mqtt5("self");
    ne_mqtt_sub_options nl = {0, true, false, 0};
    subscribe_opts(c, NE_MQTT_V5, 1, "nl/#", nl, 0, 0);
    publish(c, NE_MQTT_V5, 0, false, "nl/x", "mine", 0);
    expect_nothing(c);
    int s = mqtt5("ids");
    ne_mqtt_sub_options q1 = {1, false, false, 0};
    subscribe_opts(s, NE_MQTT_V5, 1, "id/+", q1, 5, 1);
    ne_mqtt_sub_options q0 = {0, false, false, 0};
    subscribe_opts(s, NE_MQTT_V5, 2, "id/#", q0, 7, 0);
    publish(c, NE_MQTT_V5, 1, false, "id/a", "both", 1);
    expect_publish(s, NE_MQTT_V5, "id/a", "both", 1, false);
    assert_int_equal(got.props.sub_id_count, 2);
    assert_true((got.props.sub_ids[0] == 5 && got.props.sub_ids[1] == 7) ||
                (got.props.sub_ids[0] == 7 && got.props.sub_ids[1] == 5));
}

static void test_topic_aliases_both_ways_and_their_errors_M5_28_M5_29(void **state)
{
    (void)state;
    ne_mqtt_props cp;
    memset(&cp, 0, sizeof(cp));
    cp.present = NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM);
    cp.topic_alias_maximum = 4;
    conn_opts o = {NE_MQTT_V5, "al", true, 0, NULL, NULL, NULL, NULL, 0, false, &cp, NULL};
    int sub = connect_rc(&o, 0, NULL);
    subscribe(sub, NE_MQTT_V5, "ta/#", 0);
    int pub = mqtt5("alp");
    ne_mqtt_props a;
    memset(&a, 0, sizeof(a));
    a.present = NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS);
    a.topic_alias = 1;
    ne_mqtt_props_out po = {&a, {NULL, 0}, NULL, 0};
    publish_props(pub, NE_MQTT_V5, 0, false, "ta/x", "1", 0, &po);
    publish_props(pub, NE_MQTT_V5, 0, false, "", "2", 0, &po);
    /* The first copy carries the topic and an alias, the next only the alias. */
    expect(sub, NE_MQTT_PUBLISH);
    ne_mqtt_publish d;
    uint8_t reason;
    assert_int_equal(
        ne_mqtt_decode_publish(p.first, p.body, p.len, p.len, NE_MQTT_V5, false, &d, &reason),
        NE_OK);
    assert_int_equal(d.topic.len, 4);
    assert_int_equal(d.props.topic_alias, 1);
    expect(sub, NE_MQTT_PUBLISH);
    assert_int_equal(
        ne_mqtt_decode_publish(p.first, p.body, p.len, p.len, NE_MQTT_V5, false, &d, &reason),
        NE_OK);
    assert_int_equal(d.topic.len, 0);
    assert_int_equal(d.props.topic_alias, 1);
    /* An alias never bound, then one beyond the maximum, then 0. */
    a.topic_alias = 2;
    publish_props(pub, NE_MQTT_V5, 0, false, "", "x", 0, &po);
    expect_disconnect(pub, NE_MQTT_RC_PROTOCOL_ERROR);
    pub = mqtt5("alp2");
    a.topic_alias = NE_MQTT_TOPIC_ALIAS_MAX + 1;
    publish_props(pub, NE_MQTT_V5, 0, false, "ta/y", "x", 0, &po);
    expect_disconnect(pub, NE_MQTT_RC_TOPIC_ALIAS_INVALID);
    pub = mqtt5("alp3");
    a.topic_alias = 0;
    publish_props(pub, NE_MQTT_V5, 0, false, "ta/y", "x", 0, &po);
    expect_disconnect(pub, NE_MQTT_RC_TOPIC_ALIAS_INVALID);
}

static void test_maximum_packet_size_both_ways_M5_27(void **state)
{
    (void)state;
    ne_mqtt_props cp;
    memset(&cp, 0, sizeof(cp));
    cp.present = NE_MQTT_HAS(NE_MQTT_PROP_MAXIMUM_PACKET_SIZE);
    cp.maximum_packet_size = 40;
    conn_opts o = {NE_MQTT_V5, "mps", true, 0, NULL, NULL, NULL, NULL, 0, false, &cp, NULL};
    int sub = connect_rc(&o, 0, NULL);
    subscribe(sub, NE_MQTT_V5, "mp/#", 1);
    int pub = mqtt5("mpp");
    publish(pub, NE_MQTT_V5, 1, false, "mp/a",
            "this payload is far longer than forty bytes altogether", 1);
    expect_ack(pub, NE_MQTT_V5, NE_MQTT_PUBACK, 1, 0);
    publish(pub, NE_MQTT_V5, 1, false, "mp/a", "short", 2);
    expect_ack(pub, NE_MQTT_V5, NE_MQTT_PUBACK, 2, 0);
    expect_publish(sub, NE_MQTT_V5, "mp/a", "short", 1, false);
    /* The server's own: a packet over max_payload is 0x95. */
    uint8_t big[8] = {0x30, 0x80, 0x80, 0x80, 0x01};
    send_bytes(pub, big, 5);
    expect_disconnect(pub, NE_MQTT_RC_PACKET_TOO_LARGE);
}

static void test_user_properties_and_nats_headers_both_ways_MQ_20(void **state)
{
    (void)state;
    int n = nats_client();
    nats_send(n, "SUB up.x 1\r\n");
    int pub = mqtt5("upp");
    uint8_t extra[64];
    size_t e = ne_mqtt_prop_put_pair(extra, sizeof(extra), B("site"), B("north"));
    ne_mqtt_props_out po = {NULL, {extra, (uint32_t)e}, NULL, 0};
    publish_props(pub, NE_MQTT_V5, 0, false, "up/x", "v", 0, &po);
    const char *t = nats_take(n);
    assert_non_null(strstr(t, "Nmqtt-Pub:0\r\nsite: north\r\n\r\nv\r\n"));
    int sub = mqtt5("ups");
    subscribe(sub, NE_MQTT_V5, "up/#", 0);
    nats_send(n, "HPUB up.y 22 23\r\nNATS/1.0\r\nk: value\r\n\r\nz\r\n");
    expect_publish(sub, NE_MQTT_V5, "up/y", "z", 0, false);
    assert_int_equal(got.props.user_count, 1);
    uint32_t pos = 0;
    ne_mqtt_bytes k, v;
    assert_true(ne_mqtt_props_next_user(&got.props, &pos, &k, &v));
    assert_memory_equal(k.ptr, "k", 1);
    assert_memory_equal(v.ptr, "value", 5);
    /* A message that came from MQTT elsewhere (a leaf) keeps its QoS. */
    int sub1 = mqtt3("ups1");
    subscribe(sub1, NE_MQTT_V311, "up/#", 1);
    nats_send(n, "HPUB up.z 25 26\r\nNATS/1.0\r\nNmqtt-Pub:1\r\n\r\nq\r\n");
    expect_publish(sub1, NE_MQTT_V311, "up/z", "q", 1, false);
}

static void test_request_reply_with_nats_through_response_topic(void **state)
{
    (void)state;
    /* An MQTT 5 requester and a NATS service. */
    int svc = nats_client();
    nats_send(svc, "SUB svc.time 1\r\n");
    int req = mqtt5("req");
    subscribe(req, NE_MQTT_V5, "reply/req", 0);
    ne_mqtt_props rt;
    memset(&rt, 0, sizeof(rt));
    rt.present = NE_MQTT_HAS(NE_MQTT_PROP_RESPONSE_TOPIC);
    rt.response_topic = B("reply/req");
    ne_mqtt_props_out po = {&rt, {NULL, 0}, NULL, 0};
    publish_props(req, NE_MQTT_V5, 0, false, "svc/time", "now?", 0, &po);
    const char *t = nats_take(svc);
    assert_non_null(strstr(t, "HMSG svc.time 1 reply.req "));
    nats_send(svc, "PUB reply.req 4\r\n12pm\r\n");
    expect_publish(req, NE_MQTT_V5, "reply/req", "12pm", 0, false);
    /* A NATS requester and an MQTT 5 service: the reply is the Response Topic. */
    int msvc = mqtt5("msvc");
    subscribe(msvc, NE_MQTT_V5, "msvc/q", 0);
    int nreq = nats_client();
    nats_send(nreq, "SUB _INBOX.abc 1\r\nPUB msvc.q _INBOX.abc 3\r\nask\r\n");
    expect_publish(msvc, NE_MQTT_V5, "msvc/q", "ask", 0, false);
    assert_true((got.props.present & NE_MQTT_HAS(NE_MQTT_PROP_RESPONSE_TOPIC)) != 0);
    assert_int_equal(got.props.response_topic.len, 10);
    assert_memory_equal(got.props.response_topic.ptr, "_INBOX/abc", 10);
    publish(msvc, NE_MQTT_V5, 0, false, "_INBOX/abc", "ans", 0);
    assert_non_null(strstr(nats_take(nreq), "HMSG _INBOX.abc 1 "));
}

static void with_perms(ne_server_options *o)
{
    ne_permissions *pm = &o->perms[0];
    memset(pm, 0, sizeof(*pm));
    pm->pub_allow.present = true;
    pm->pub_allow.first = 0;
    pm->pub_allow.count = 1;
    pm->sub_allow.present = true;
    pm->sub_allow.first = 1;
    pm->sub_allow.count = 1;
    o->perm_subjects[0].subject_len = 5;
    memcpy(o->perm_subjects[0].text, "ok.>", 4);
    o->perm_subjects[0].subject_len = 4;
    o->perm_subjects[1].subject_len = 4;
    memcpy(o->perm_subjects[1].text, "ok.>", 4);
    o->perm_subject_count = 2;
    o->perm_count = 1;
    ne_user_entry *u = &o->users[0];
    memset(u, 0, sizeof(*u));
    memcpy(u->user, "bob", 4);
    memcpy(u->pass, "pw", 3);
    u->perms = 0;
    o->user_count = 1;
}

static void test_permissions_apply_to_the_converted_subjects_MQ_12c(void **state)
{
    (void)state;
    ne_server_shutdown(&srv);
    start(with_perms);
    conn_opts o = {NE_MQTT_V5, "bob", true, 0, "bob", "pw", NULL, NULL, 0, false, NULL, NULL};
    int c = connect_rc(&o, 0, NULL);
    ne_mqtt_sub_options q = {0, false, false, 0};
    /* "ok/#" is also "ok", which "ok.>" does not allow (as nats-server). */
    subscribe_opts(c, NE_MQTT_V5, 3, "ok/#", q, 0, NE_MQTT_RC_NOT_AUTHORIZED);
    subscribe(c, NE_MQTT_V5, "ok/+", 1);
    subscribe_opts(c, NE_MQTT_V5, 2, "no/#", q, 0, NE_MQTT_RC_NOT_AUTHORIZED);
    publish(c, NE_MQTT_V5, 1, false, "no/x", "x", 1);
    expect_ack(c, NE_MQTT_V5, NE_MQTT_PUBACK, 1, NE_MQTT_RC_NOT_AUTHORIZED);
    publish(c, NE_MQTT_V5, 1, false, "ok/x", "y", 2);
    expect_publish(c, NE_MQTT_V5, "ok/x", "y", 1, false);
    /* 3.1.1: refused filters are 0x80; refused publishes acknowledged. */
    o.version = NE_MQTT_V311;
    o.id = "bob3";
    int c3 = connect_rc(&o, 0, NULL);
    subscribe_opts(c3, NE_MQTT_V311, 1, "no/#", q, 0, NE_MQTT_RC_UNSPECIFIED);
    publish(c3, NE_MQTT_V311, 1, false, "no/x", "x", 1);
    expect_ack(c3, NE_MQTT_V311, NE_MQTT_PUBACK, 1, 0);
}

static void test_large_publish_assembled_in_chunks_reaches_both_kinds(void **state)
{
    (void)state;
    static char big[200001];
    for (size_t i = 0; i < sizeof(big) - 1; i++) {
        big[i] = (char)('a' + i % 26);
    }
    big[sizeof(big) - 1] = '\0';
    int sub = mqtt3("bigs");
    subscribe(sub, NE_MQTT_V311, "big/#", 1);
    int n = nats_client();
    nats_send(n, "SUB big.> 1\r\n");
    int pub = mqtt3("bigp");
    /* Sent in pieces, as a slow link would. */
    size_t len = strlen(big);
    size_t hn = ne_mqtt_encode_publish_head(out, sizeof(out), NE_MQTT_V311, 0x32, B("big/a"), 3,
                                            NULL, (uint32_t)len);
    send_bytes(pub, out, hn);
    for (size_t at = 0; at < len; at += 50000) {
        size_t k = len - at < 50000 ? len - at : 50000;
        send_bytes(pub, (const uint8_t *)big + at, k);
        step(2);
    }
    expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBACK, 3, 0);
    expect_publish(sub, NE_MQTT_V311, "big/a", big, 1, false);
    send_ack(sub, NE_MQTT_V311, NE_MQTT_PUBACK, got.packet_id);
    size_t total = 0;
    for (int i = 0; i < 20 && total < len; i++) {
        step(2);
        total += ne_sim_client_read(&sim, n, text, sizeof(text) - 1);
    }
    assert_true(total > len);
}

static void test_v3_unacknowledged_sent_again_after_ack_wait_not_v5_MQ_11_M3_40(void **state)
{
    (void)state;
    int s3 = mqtt3("aw3");
    subscribe(s3, NE_MQTT_V311, "aw/#", 1);
    int s5 = mqtt5("aw5");
    subscribe(s5, NE_MQTT_V5, "aw/#", 1);
    int pub = mqtt3("awp");
    publish(pub, NE_MQTT_V311, 1, false, "aw/x", "w", 1);
    expect_publish(s3, NE_MQTT_V311, "aw/x", "w", 1, false);
    uint16_t id = got.packet_id;
    expect_publish(s5, NE_MQTT_V5, "aw/x", "w", 1, false);
    advance(NE_MQTT_DEFAULT_ACK_WAIT_MS - 500);
    expect_nothing(s3);
    advance(1000);
    expect_publish(s3, NE_MQTT_V311, "aw/x", "w", 1, false);
    assert_true(got.dup);
    assert_int_equal(got.packet_id, id);
    expect_nothing(s5);
}

static void test_shutdown_tells_v5_clients_0x8b(void **state)
{
    (void)state;
    int c5 = mqtt5("bye5");
    int c3 = mqtt3("bye3");
    ne_server_shutdown(&srv);
    expect_disconnect(c5, NE_MQTT_RC_SERVER_SHUTTING_DOWN);
    pull(c3);
    assert_int_equal(rx[c3].len, 0);
    start(NULL);
}

static void test_acknowledged_messages_leave_the_store_at_once(void **state)
{
    (void)state;
    int sub = mqtt3("st-s");
    subscribe(sub, NE_MQTT_V311, "st/#", 1);
    int pub = mqtt3("st-p");
    publish(pub, NE_MQTT_V311, 1, false, "st/x", "kept", 1);
    expect_publish(sub, NE_MQTT_V311, "st/x", "kept", 1, false);
    assert_int_equal(srv.mqtt.store.msg_pool.in_use, 1);
    send_ack(sub, NE_MQTT_V311, NE_MQTT_PUBACK, got.packet_id);
    step(2);
    assert_int_equal(srv.mqtt.store.msg_pool.in_use, 0);
    assert_int_equal(srv.mqtt.store.block_pool.in_use, 0);
}

static void test_acks_queued_before_a_v3_protocol_error_still_go_out_M3_29(void **state)
{
    (void)state;
    int pub = mqtt3("acks");
    /* Every QoS 2 publish in one read: the ids the session holds, then one
     * too many closes the client, after the PUBRECs already answered. */
    size_t total = 0;
    for (uint16_t id = 1; id <= NE_MQTT_MAX_INBOUND_QOS2 + 1; id++) {
        size_t n = ne_mqtt_encode_publish_head(out + total, sizeof(out) - total, NE_MQTT_V311, 0x34,
                                               B("ak/x"), id, NULL, 1);
        out[total + n] = 'x';
        total += n + 1;
    }
    send_bytes(pub, out, total);
    for (uint16_t id = 1; id <= NE_MQTT_MAX_INBOUND_QOS2; id++) {
        expect_ack(pub, NE_MQTT_V311, NE_MQTT_PUBREC, id, 0);
    }
    assert_true(closed(pub));
}

static void test_connz_shows_mqtt_client_and_varz_the_mqtt_object_MON_01_MON_02(void **state)
{
    (void)state;
    int c = mqtt3("probe1");
    subscribe(c, NE_MQTT_V311, "a/#", 0);
    const ne_mon_endpoint *connz = ne_mon_find(&srv.mon, "/connz", 6);
    assert_non_null(connz);
    (void)connz;
    ne_conn *found = NULL;
    for (ne_conn *x = srv.conns.active; x != NULL; x = x->next) {
        ne_conn_desc d;
        ne_conn_describe(x, &d);
        if (strcmp(d.mqtt_client, "probe1") == 0) {
            found = x;
            assert_string_equal(d.type, "mqtt");
            assert_true(d.counted);
            assert_int_equal(d.subs_of->nsubs, 2); /* "a.>" and "a" */
        }
    }
    assert_non_null(found);
}

/* A burst of connects answered in one loop turn: each connection writes
 * its CONNACK right after the read that produced it (its queue was empty
 * before), so the chunk goes back to the pool before the next connection's
 * read and the burst reuses one chunk instead of touching one per client
 * (issue 17, idle RSS: each chunk touched stays resident). */
static void test_connect_burst_reuses_one_chunk_MB_03(void **state)
{
    (void)state;
    enum { BURST = 12 };
    int c[BURST];
    for (int i = 0; i < BURST; i++) {
        c[i] = open_client();
    }
    conn_opts o = {NE_MQTT_V311, NULL, true, 60, NULL, NULL, NULL, NULL, 0, false, NULL, NULL};
    char id[24];
    for (int i = 0; i < BURST; i++) {
        snprintf(id, sizeof(id), "burst%d", i);
        o.id = id;
        send_connect(c[i], &o);
    }
    ne_pool *chunks = &srv.conns.chunks.chunks;
    uint32_t before = chunks->in_use;
    chunks->peak = before;
    step(1); /* one turn reads every CONNECT */
    assert_true(chunks->peak <= before + 1);
    for (int i = 0; i < BURST; i++) {
        expect(c[i], NE_MQTT_CONNACK);
        assert_int_equal(p.len, 2);
        assert_int_equal(p.body[1], 0);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_connack_v3_new_and_resumed_MQ_06_MB_03),
        T(test_connect_burst_reuses_one_chunk_MB_03),
        T(test_first_packet_must_be_connect_M3_05),
        T(test_bad_level_gets_v3_connack_1_MQ_01_MB_04),
        T(test_empty_client_id_assigned_or_refused_M3_23_MB_02),
        T(test_idle_session_holds_no_inbound_table_and_no_long_id_M3_23_M3_39),
#if NE_CONN_PARKING
        T(test_idle_client_parks_and_comes_back_M3_24),
#endif
        T(test_authentication_failure_is_connack_5_MQ_06_MQ_07),
        T(test_mqtt_authorization_overrides_and_token_is_the_password_MQ_25),
        T(test_auth_method_refused_with_0x8c_M5_46_MB_08),
        T(test_qos0_and_nats_share_subjects_MQ_12c_MQ_13_MQ_17),
        T(test_wildcard_publish_and_bad_packets_close_MQ_15_M3_03_M3_16),
        T(test_qos1_puback_and_min_qos_M3_37_M3_42),
        T(test_qos1_redelivered_with_dup_after_reconnect_M3_40_MB_27),
        T(test_qos2_inbound_exactly_once_across_reconnect_M3_39_MB_18),
        T(test_qos2_outbound_pubrel_resent_after_reconnect_M3_38_MB_27),
        T(test_receive_maximum_of_the_client_is_respected_M5_25_MB_21),
        T(test_inbound_qos2_beyond_receive_maximum_is_0x93_M5_26),
        T(test_overlapping_subscriptions_one_copy_highest_qos_M3_49),
        T(test_dollar_topics_not_matched_by_leading_wildcards_M3_46_MB_36),
        T(test_retained_replayed_on_subscribe_and_deleted_by_empty_M3_51_M3_52_MQ_23),
        T(test_retain_handling_and_retain_as_published_M5_33_M5_34),
        T(test_takeover_closes_the_old_connection_with_0x8e_M3_34_MQ_07),
        T(test_will_on_abnormal_close_not_on_disconnect_M3_35_MQ_09),
        T(test_will_delay_and_reconnect_cancelling_it_M5_23),
        T(test_keep_alive_one_and_a_half_times_M3_24_MQ_08),
        T(test_session_expiry_ends_an_offline_session_M5_19),
        T(test_message_expiry_counts_down_while_queued_M5_40),
        T(test_shared_subscription_one_member_per_message_M5_36_MB_38),
        T(test_shared_subscription_redelivers_when_a_member_ends_M5_36),
        T(test_no_local_and_subscription_identifiers_M5_32_M5_35),
        T(test_topic_aliases_both_ways_and_their_errors_M5_28_M5_29),
        T(test_maximum_packet_size_both_ways_M5_27),
        T(test_user_properties_and_nats_headers_both_ways_MQ_20),
        T(test_request_reply_with_nats_through_response_topic),
        T(test_permissions_apply_to_the_converted_subjects_MQ_12c),
        T(test_large_publish_assembled_in_chunks_reaches_both_kinds),
        T(test_v3_unacknowledged_sent_again_after_ack_wait_not_v5_MQ_11_M3_40),
        T(test_shutdown_tells_v5_clients_0x8b),
        T(test_acknowledged_messages_leave_the_store_at_once),
        T(test_acks_queued_before_a_v3_protocol_error_still_go_out_M3_29),
        T(test_connz_shows_mqtt_client_and_varz_the_mqtt_object_MON_01_MON_02),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
