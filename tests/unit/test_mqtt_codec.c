/* The MQTT packet codec and topic mapping (src/mqtt/ne_mqtt_codec.c,
 * ne_mqtt_topic.c): every packet both ways, every property, each length at
 * its limit and one past it. IDs refer to shared/reference/mqtt-inventory.md
 * (M3-, M5-, MB-) and nats-inventory.md (MQ-). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/ne_error.h"
#include "mqtt/ne_mqtt_codec.h"
#include "mqtt/ne_mqtt_topic.h"

#define B(s) ((ne_mqtt_bytes){(const uint8_t *)(s), (uint32_t)(sizeof(s) - 1)})

static uint8_t buf[1 << 20];

/* ---- Variable byte integers and the fixed header ----------------------------- */

static void test_vbi_sizes_at_every_boundary_M3_07(void **state)
{
    (void)state;
    static const struct {
        uint32_t value;
        uint32_t size;
    } cases[] = {{0, 1},     {127, 1},     {128, 2},     {16383, 2},
                 {16384, 3}, {2097151, 3}, {2097152, 4}, {268435455, 4}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint8_t out[4];
        assert_int_equal(ne_mqtt_vbi_size(cases[i].value), cases[i].size);
        assert_int_equal(ne_mqtt_vbi_encode(out, sizeof(out), cases[i].value), cases[i].size);
        /* One byte short of room: nothing written. */
        assert_int_equal(ne_mqtt_vbi_encode(out, cases[i].size - 1, cases[i].value), 0);
        uint32_t v = 0, n = 0;
        assert_int_equal(ne_mqtt_vbi_decode(out, cases[i].size, &v, &n), NE_OK);
        assert_int_equal(v, cases[i].value);
        assert_int_equal(n, cases[i].size);
        /* Truncated by one byte. */
        if (cases[i].size > 1) {
            assert_int_equal(ne_mqtt_vbi_decode(out, cases[i].size - 1, &v, &n), NE_ERR_PARSE);
        }
    }
    uint8_t out[8];
    assert_int_equal(ne_mqtt_vbi_encode(out, sizeof(out), 268435456u), 0);
    static const uint8_t max[] = {0xff, 0xff, 0xff, 0x7f};
    uint32_t v = 0, n = 0;
    assert_int_equal(ne_mqtt_vbi_decode(max, 4, &v, &n), NE_OK);
    assert_int_equal(v, 268435455u);
    static const uint8_t five[] = {0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(ne_mqtt_vbi_decode(five, 5, &v, &n), NE_ERR_PARSE);
}

static void test_fixed_header_waits_then_refuses_a_fifth_byte_M3_07(void **state)
{
    (void)state;
    uint8_t first;
    uint32_t rl, hl;
    static const uint8_t one[] = {0x30};
    assert_int_equal(ne_mqtt_fixed_header(one, 1, &first, &rl, &hl), NE_ERR_WOULD_BLOCK);
    static const uint8_t partial[] = {0x30, 0xff, 0xff};
    assert_int_equal(ne_mqtt_fixed_header(partial, 3, &first, &rl, &hl), NE_ERR_WOULD_BLOCK);
    static const uint8_t max[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
    assert_int_equal(ne_mqtt_fixed_header(max, 5, &first, &rl, &hl), NE_OK);
    assert_int_equal(rl, NE_MQTT_MAX_REMAINING);
    assert_int_equal(hl, 5);
    static const uint8_t five[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
    assert_int_equal(ne_mqtt_fixed_header(five, 6, &first, &rl, &hl), NE_ERR_PARSE);
    /* Non-minimal encodings are read (M5-01, MB-15). */
    static const uint8_t nonmin[] = {0xc0, 0x80, 0x00};
    assert_int_equal(ne_mqtt_fixed_header(nonmin, 3, &first, &rl, &hl), NE_OK);
    assert_int_equal(rl, 0);
    assert_int_equal(hl, 3);
}

static void test_fixed_flags_per_type_M3_02(void **state)
{
    (void)state;
    assert_true(ne_mqtt_flags_valid(0x10));
    assert_false(ne_mqtt_flags_valid(0x11));
    assert_true(ne_mqtt_flags_valid(0x3f)); /* PUBLISH: its own flags (QoS 3 checked later) */
    assert_true(ne_mqtt_flags_valid(0x62));
    assert_false(ne_mqtt_flags_valid(0x60));
    assert_true(ne_mqtt_flags_valid(0x82));
    assert_false(ne_mqtt_flags_valid(0x80));
    assert_true(ne_mqtt_flags_valid(0xa2));
    assert_false(ne_mqtt_flags_valid(0xa3));
    assert_true(ne_mqtt_flags_valid(0xc0));
    assert_false(ne_mqtt_flags_valid(0xc1));
    assert_true(ne_mqtt_flags_valid(0xe0));
    assert_false(ne_mqtt_flags_valid(0xe1));
    assert_true(ne_mqtt_flags_valid(0xf0));
}

/* ---- UTF-8 ---------------------------------------------------------------------- */

static void test_utf8_rules_M3_10_M3_11_M3_13(void **state)
{
    (void)state;
    assert_true(ne_mqtt_utf8_valid((const uint8_t *)"a/b", 3));
    assert_true(ne_mqtt_utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    assert_true(ne_mqtt_utf8_valid((const uint8_t *)"\xef\xbb\xbf", 3));      /* U+FEFF kept */
    assert_true(ne_mqtt_utf8_valid((const uint8_t *)"\xf4\x8f\xbf\xbf", 4));  /* U+10FFFF */
    assert_false(ne_mqtt_utf8_valid((const uint8_t *)"a\0b", 3));             /* U+0000 */
    assert_false(ne_mqtt_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    assert_false(ne_mqtt_utf8_valid((const uint8_t *)"\xc0\x80", 2));         /* overlong */
    assert_false(ne_mqtt_utf8_valid((const uint8_t *)"\xe0\x80\xaf", 3));     /* overlong */
    assert_false(ne_mqtt_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(ne_mqtt_utf8_valid((const uint8_t *)"\xe2\x82", 2));         /* truncated */
    assert_false(ne_mqtt_utf8_valid((const uint8_t *)"\x80", 1));             /* continuation */
    assert_false(ne_mqtt_utf8_valid((const uint8_t *)"\xf8\x88\x80\x80\x80", 5));
}

/* ---- Properties -------------------------------------------------------------------- */

/* Decodes a block and returns the result; reason in *reason. */
static int props(const uint8_t *p, uint32_t len, ne_mqtt_ctx ctx, ne_mqtt_props *out,
                 uint8_t *reason)
{
    return ne_mqtt_props_decode(p, len, ctx, false, out, reason);
}

static void test_every_property_round_trips_in_its_packets_M5_10(void **state)
{
    (void)state;
    ne_mqtt_props in;
    memset(&in, 0, sizeof(in));
    in.present =
        NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY) | NE_MQTT_HAS(NE_MQTT_PROP_ASSIGNED_CLIENT_ID) |
        NE_MQTT_HAS(NE_MQTT_PROP_SERVER_KEEP_ALIVE) | NE_MQTT_HAS(NE_MQTT_PROP_AUTH_METHOD) |
        NE_MQTT_HAS(NE_MQTT_PROP_AUTH_DATA) | NE_MQTT_HAS(NE_MQTT_PROP_RESPONSE_INFO) |
        NE_MQTT_HAS(NE_MQTT_PROP_SERVER_REFERENCE) | NE_MQTT_HAS(NE_MQTT_PROP_REASON_STRING) |
        NE_MQTT_HAS(NE_MQTT_PROP_RECEIVE_MAXIMUM) | NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM) |
        NE_MQTT_HAS(NE_MQTT_PROP_MAXIMUM_QOS) | NE_MQTT_HAS(NE_MQTT_PROP_RETAIN_AVAILABLE) |
        NE_MQTT_HAS(NE_MQTT_PROP_MAXIMUM_PACKET_SIZE) |
        NE_MQTT_HAS(NE_MQTT_PROP_WILDCARD_AVAILABLE) | NE_MQTT_HAS(NE_MQTT_PROP_SUB_IDS_AVAILABLE) |
        NE_MQTT_HAS(NE_MQTT_PROP_SHARED_AVAILABLE);
    in.session_expiry = 0xfffffffeu;
    in.assigned_client_id = B("auto-1");
    in.server_keep_alive = 65535;
    in.auth_method = B("SCRAM");
    in.auth_data = B("\x00\x01");
    in.response_info = B("r/");
    in.server_reference = B("other:1883");
    in.reason_string = B("why");
    in.receive_maximum = 1;
    in.topic_alias_maximum = 65535;
    in.maximum_qos = 1;
    in.retain_available = 0;
    in.maximum_packet_size = 0xffffffffu;
    in.wildcard_available = 1;
    in.sub_ids_available = 0;
    in.shared_available = 1;
    uint8_t user[64];
    size_t ulen = ne_mqtt_prop_put_pair(user, sizeof(user), B("k"), B("v"));
    ulen += ne_mqtt_prop_put_pair(user + ulen, sizeof(user) - ulen, B("k"), B("w"));
    ne_mqtt_props_out po = {&in, {user, (uint32_t)ulen}, NULL, 0};
    size_t n = ne_mqtt_encode_connack(buf, sizeof(buf), NE_MQTT_V5, true, 0, &po);
    assert_true(n > 0);
    /* Exactly the room it needs, and one byte less. */
    assert_int_equal(ne_mqtt_encode_connack(buf, n, NE_MQTT_V5, true, 0, &po), n);
    assert_int_equal(ne_mqtt_encode_connack(buf, n - 1, NE_MQTT_V5, true, 0, &po), 0);
    uint8_t first;
    uint32_t rl, hl;
    assert_int_equal(ne_mqtt_fixed_header(buf, n, &first, &rl, &hl), NE_OK);
    assert_int_equal(hl + rl, n);
    ne_mqtt_connack ca;
    uint8_t reason = 0;
    assert_int_equal(ne_mqtt_decode_connack(buf + hl, rl, NE_MQTT_V5, &ca, &reason), NE_OK);
    assert_true(ca.session_present);
    const ne_mqtt_props *o = &ca.props;
    assert_int_equal(o->present, in.present | NE_MQTT_HAS(NE_MQTT_PROP_USER_PROPERTY));
    assert_int_equal(o->session_expiry, 0xfffffffeu);
    assert_memory_equal(o->assigned_client_id.ptr, "auto-1", 6);
    assert_int_equal(o->server_keep_alive, 65535);
    assert_int_equal(o->auth_data.len, 2);
    assert_int_equal(o->receive_maximum, 1);
    assert_int_equal(o->topic_alias_maximum, 65535);
    assert_int_equal(o->maximum_qos, 1);
    assert_int_equal(o->maximum_packet_size, 0xffffffffu);
    assert_int_equal(o->shared_available, 1);
    assert_int_equal(o->user_count, 2);
    uint32_t pos = 0;
    ne_mqtt_bytes k, v;
    assert_true(ne_mqtt_props_next_user(o, &pos, &k, &v));
    assert_memory_equal(v.ptr, "v", 1);
    assert_true(ne_mqtt_props_next_user(o, &pos, &k, &v));
    assert_memory_equal(v.ptr, "w", 1);
    assert_false(ne_mqtt_props_next_user(o, &pos, &k, &v));

    /* The message's properties in a PUBLISH, and a will's. */
    ne_mqtt_props m;
    memset(&m, 0, sizeof(m));
    m.present = NE_MQTT_HAS(NE_MQTT_PROP_PAYLOAD_FORMAT) |
                NE_MQTT_HAS(NE_MQTT_PROP_MESSAGE_EXPIRY) | NE_MQTT_HAS(NE_MQTT_PROP_CONTENT_TYPE) |
                NE_MQTT_HAS(NE_MQTT_PROP_RESPONSE_TOPIC) |
                NE_MQTT_HAS(NE_MQTT_PROP_CORRELATION_DATA) | NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS);
    m.payload_format = 1;
    m.message_expiry = 60;
    m.content_type = B("text/plain");
    m.response_topic = B("resp/t");
    m.correlation_data = B("\x00\x01"
                           "corr");
    m.topic_alias = 7;
    static const uint32_t ids[] = {5, 268435455};
    ne_mqtt_props_out pp = {&m, {user, (uint32_t)ulen}, ids, 2};
    n = ne_mqtt_encode_publish_head(buf, sizeof(buf), NE_MQTT_V5, 0x32, B("a/b"), 9, &pp, 3);
    assert_true(n > 0);
    memcpy(buf + n, "xyz", 3);
    assert_int_equal(ne_mqtt_fixed_header(buf, n + 3, &first, &rl, &hl), NE_OK);
    assert_int_equal(hl + rl, n + 3);
    ne_mqtt_publish pub;
    assert_int_equal(
        ne_mqtt_decode_publish(first, buf + hl, rl, rl, NE_MQTT_V5, false, &pub, &reason), NE_OK);
    assert_int_equal(pub.qos, 1);
    assert_int_equal(pub.packet_id, 9);
    assert_int_equal(pub.payload_len, 3);
    assert_memory_equal(pub.payload, "xyz", 3);
    assert_int_equal(pub.props.sub_id_count, 2);
    assert_int_equal(pub.props.sub_ids[1], 268435455);
    assert_int_equal(pub.props.topic_alias, 7);
    assert_int_equal(pub.props.message_expiry, 60);
    /* A client may not send Subscription Identifiers ([MQTT-3.3.4-6]). */
    assert_int_equal(
        ne_mqtt_decode_publish(first, buf + hl, rl, rl, NE_MQTT_V5, true, &pub, &reason),
        NE_ERR_PARSE);
    assert_int_equal(reason, NE_MQTT_RC_PROTOCOL_ERROR);
}

static void test_message_properties_are_forwarded_in_order_M5_14_MB_41(void **state)
{
    (void)state;
    uint8_t p[128];
    size_t n = 0;
    n += ne_mqtt_prop_put_pair(p + n, sizeof(p) - n, B("z"), B("1"));
    n += ne_mqtt_prop_put_int(p + n, sizeof(p) - n, NE_MQTT_PROP_PAYLOAD_FORMAT, 1);
    n += ne_mqtt_prop_put_int(p + n, sizeof(p) - n, NE_MQTT_PROP_MESSAGE_EXPIRY, 9);
    n += ne_mqtt_prop_put_bytes(p + n, sizeof(p) - n, NE_MQTT_PROP_CONTENT_TYPE, B("text/plain"));
    n += ne_mqtt_prop_put_int(p + n, sizeof(p) - n, NE_MQTT_PROP_TOPIC_ALIAS, 3);
    n += ne_mqtt_prop_put_pair(p + n, sizeof(p) - n, B("a"), B("2"));
    n += ne_mqtt_prop_put_bytes(p + n, sizeof(p) - n, NE_MQTT_PROP_RESPONSE_TOPIC, B("resp/t"));
    n += ne_mqtt_prop_put_bytes(p + n, sizeof(p) - n, NE_MQTT_PROP_CORRELATION_DATA, B("c"));
    n += ne_mqtt_prop_put_pair(p + n, sizeof(p) - n, B("z"), B("3"));
    ne_mqtt_props d;
    uint8_t reason;
    assert_int_equal(props(p, (uint32_t)n, NE_MQTT_CTX_PUBLISH, &d, &reason), NE_OK);
    assert_int_equal(d.user_count, 3);
    uint8_t out[128];
    int32_t m = ne_mqtt_props_message(&d, out, sizeof(out));
    /* Everything but the expiry (5 B) and the alias (3 B), in order. */
    assert_int_equal(m, (int32_t)n - 8);
    uint8_t want[128];
    size_t w = 0;
    w += ne_mqtt_prop_put_pair(want + w, sizeof(want) - w, B("z"), B("1"));
    w += ne_mqtt_prop_put_int(want + w, sizeof(want) - w, NE_MQTT_PROP_PAYLOAD_FORMAT, 1);
    w += ne_mqtt_prop_put_bytes(want + w, sizeof(want) - w, NE_MQTT_PROP_CONTENT_TYPE,
                                B("text/plain"));
    w += ne_mqtt_prop_put_pair(want + w, sizeof(want) - w, B("a"), B("2"));
    w += ne_mqtt_prop_put_bytes(want + w, sizeof(want) - w, NE_MQTT_PROP_RESPONSE_TOPIC,
                                B("resp/t"));
    w += ne_mqtt_prop_put_bytes(want + w, sizeof(want) - w, NE_MQTT_PROP_CORRELATION_DATA, B("c"));
    w += ne_mqtt_prop_put_pair(want + w, sizeof(want) - w, B("z"), B("3"));
    assert_int_equal(m, (int32_t)w);
    assert_memory_equal(out, want, w);
    /* Its room exactly, then one byte short. */
    assert_int_equal(ne_mqtt_props_message(&d, out, w), (int32_t)w);
    assert_int_equal(ne_mqtt_props_message(&d, out, w - 1), -1);
}

static void test_property_faults_are_malformed_or_protocol_errors_M5_08_M5_09_M5_11(void **state)
{
    (void)state;
    ne_mqtt_props d;
    uint8_t reason;
    static const struct {
        const char *bytes;
        uint32_t len;
        ne_mqtt_ctx ctx;
        uint8_t reason;
    } faults[] = {
        {"\x50\x00", 2, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_MALFORMED},         /* unknown id */
        {"\x23\x00\x01", 3, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_MALFORMED},     /* alias in CONNECT */
        {"\x12\x00\x00", 3, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_MALFORMED},     /* CONNACK only */
        {"\x11\x00\x00\x00", 4, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_MALFORMED}, /* truncated u32 */
        {"\x11\x00\x00\x00\x01\x11\x00\x00\x00\x02", 10, NE_MQTT_CTX_CONNECT,
         NE_MQTT_RC_PROTOCOL_ERROR},                                         /* repeated */
        {"\x21\x00\x00", 3, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_PROTOCOL_ERROR}, /* receive max 0 */
        {"\x27\x00\x00\x00\x00", 5, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_PROTOCOL_ERROR},
        {"\x17\x02", 2, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_PROTOCOL_ERROR}, /* not 0/1 */
        {"\x19\x02", 2, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_PROTOCOL_ERROR},
        {"\x16\x00\x01x", 4, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_PROTOCOL_ERROR}, /* data, no method */
        {"\x0b\x00", 2, NE_MQTT_CTX_SUBSCRIBE, NE_MQTT_RC_PROTOCOL_ERROR},    /* sub id 0 */
        {"\x0b\x01\x0b\x02", 4, NE_MQTT_CTX_SUBSCRIBE, NE_MQTT_RC_PROTOCOL_ERROR},
        {"\x0b\xff\xff\xff\xff\x01", 6, NE_MQTT_CTX_SUBSCRIBE, NE_MQTT_RC_MALFORMED},
        {"\x03\x00\x02\xc0\x80", 5, NE_MQTT_CTX_PUBLISH, NE_MQTT_RC_MALFORMED}, /* not UTF-8 */
        {"\x26\x00\x01k\x00\x02v", 7, NE_MQTT_CTX_PUBLISH, NE_MQTT_RC_MALFORMED},
        {"\x1f\x00\x01\x00", 4, NE_MQTT_CTX_ACK, NE_MQTT_RC_MALFORMED},         /* U+0000 */
        {"\x18\x00\x00\x00\x01", 5, NE_MQTT_CTX_PUBLISH, NE_MQTT_RC_MALFORMED}, /* will only */
        {"\x11\x00\x00\x00\x01", 5, NE_MQTT_CTX_WILL, NE_MQTT_RC_MALFORMED},
        {"\x24\x02", 2, NE_MQTT_CTX_CONNACK, NE_MQTT_RC_PROTOCOL_ERROR},
        {"\x80\x80\x80\x80\x01", 5, NE_MQTT_CTX_CONNECT, NE_MQTT_RC_MALFORMED}, /* 5-byte id */
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        reason = 0;
        int rc = props((const uint8_t *)faults[i].bytes, faults[i].len, faults[i].ctx, &d, &reason);
        if (rc != NE_ERR_PARSE || reason != faults[i].reason) {
            fail_msg("case %zu: rc %d reason 0x%02x, want 0x%02x", i, rc, reason, faults[i].reason);
        }
    }
    /* Allowed: repeated user properties, repeated sub ids in a server's
     * PUBLISH, the will delay in a will. */
    assert_int_equal(props((const uint8_t *)"\x26\x00\x01k\x00\x01v\x26\x00\x01k\x00\x01v", 14,
                           NE_MQTT_CTX_DISCONNECT, &d, &reason),
                     NE_OK);
    assert_int_equal(
        props((const uint8_t *)"\x0b\x01\x0b\x02", 4, NE_MQTT_CTX_PUBLISH, &d, &reason), NE_OK);
    assert_int_equal(
        props((const uint8_t *)"\x18\x00\x00\x00\x05", 5, NE_MQTT_CTX_WILL, &d, &reason), NE_OK);
    assert_int_equal(d.will_delay, 5);
}

/* ---- CONNECT ------------------------------------------------------------------------ */

static size_t connect_packet(const ne_mqtt_connect_out *c)
{
    size_t n = ne_mqtt_encode_connect(buf, sizeof(buf), c);
    assert_true(n > 0);
    return n;
}

static ne_mqtt_connect_fault decode_connect_at(size_t n, ne_mqtt_connect *out, uint8_t *reason)
{
    uint8_t first;
    uint32_t rl, hl;
    assert_int_equal(ne_mqtt_fixed_header(buf, n, &first, &rl, &hl), NE_OK);
    assert_int_equal(first, 0x10);
    return ne_mqtt_decode_connect(buf + hl, rl, out, reason);
}

static void test_connect_v3_and_v5_decode_whole_M3_19_M3_20(void **state)
{
    (void)state;
    ne_mqtt_connect_out c;
    memset(&c, 0, sizeof(c));
    c.level = NE_MQTT_V311;
    c.clean_start = true;
    c.keep_alive_s = 60;
    c.client_id = B("dev-1");
    c.will = true;
    c.will_qos = 2;
    c.will_retain = true;
    c.will_topic = B("will/dev-1");
    c.will_payload = B("gone");
    c.has_user = c.has_password = true;
    c.user = B("alice");
    c.password = B("\x00\xffpw");
    size_t n = connect_packet(&c);
    ne_mqtt_connect d;
    uint8_t reason;
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_OK);
    assert_int_equal(d.level, 4);
    assert_true(d.clean_start);
    assert_int_equal(d.keep_alive_s, 60);
    assert_memory_equal(d.client_id.ptr, "dev-1", 5);
    assert_true(d.will && d.will_retain);
    assert_int_equal(d.will_qos, 2);
    assert_memory_equal(d.will_payload.ptr, "gone", 4);
    assert_memory_equal(d.user.ptr, "alice", 5);
    assert_int_equal(d.password.len, 4);

    ne_mqtt_props cp;
    memset(&cp, 0, sizeof(cp));
    cp.present = NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY) |
                 NE_MQTT_HAS(NE_MQTT_PROP_RECEIVE_MAXIMUM) |
                 NE_MQTT_HAS(NE_MQTT_PROP_MAXIMUM_PACKET_SIZE) |
                 NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM) |
                 NE_MQTT_HAS(NE_MQTT_PROP_REQUEST_RESPONSE_INFO) |
                 NE_MQTT_HAS(NE_MQTT_PROP_REQUEST_PROBLEM_INFO);
    cp.session_expiry = 0xffffffffu;
    cp.receive_maximum = 10;
    cp.maximum_packet_size = 1000;
    cp.topic_alias_maximum = 4;
    cp.request_response_info = 1;
    ne_mqtt_props wp;
    memset(&wp, 0, sizeof(wp));
    wp.present = NE_MQTT_HAS(NE_MQTT_PROP_WILL_DELAY) | NE_MQTT_HAS(NE_MQTT_PROP_MESSAGE_EXPIRY);
    wp.will_delay = 30;
    wp.message_expiry = 100;
    ne_mqtt_props_out cpo = {&cp, {NULL, 0}, NULL, 0};
    ne_mqtt_props_out wpo = {&wp, {NULL, 0}, NULL, 0};
    c.level = NE_MQTT_V5;
    c.props = &cpo;
    c.will_props = &wpo;
    c.has_user = false; /* v5: a password alone (M3-22) */
    n = connect_packet(&c);
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_OK);
    assert_int_equal(d.level, 5);
    assert_int_equal(d.props.session_expiry, 0xffffffffu);
    assert_int_equal(d.props.receive_maximum, 10);
    assert_int_equal(d.will_props.will_delay, 30);
    assert_int_equal(d.will_props.message_expiry, 100);
    assert_false(d.has_user);
    assert_true(d.has_password);
}

/* Patches the CONNECT in buf: byte at body offset `at` (after the fixed
 * header of 2 bytes). */
static void test_connect_faults_close_or_refuse_by_version_M3_19_M3_21_MB_04_MB_09(void **state)
{
    (void)state;
    ne_mqtt_connect_out c;
    memset(&c, 0, sizeof(c));
    c.level = NE_MQTT_V311;
    c.clean_start = true;
    c.client_id = B("x");
    ne_mqtt_connect d;
    uint8_t reason;
    size_t n = connect_packet(&c);
    /* body: 00 04 M Q T T level flags ka ka ...; buf[2..] is the body. */
    buf[2 + 6] = 3;
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_BAD_VERSION);
    buf[2 + 6] = 6;
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_BAD_VERSION);
    buf[2 + 6] = 4;
    buf[2 + 5] = 'X'; /* MQTX */
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_CLOSE);
    buf[2 + 5] = 'T';
    buf[2 + 7] |= 0x01; /* reserved flag */
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_CLOSE);
    buf[2 + 7] = 0x02 | 0x08; /* will QoS 1 without the will flag */
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_CLOSE);
    buf[2 + 7] = 0x02 | 0x20; /* will retain without the will flag */
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_CLOSE);
    buf[2 + 7] = 0x02 | 0x40; /* v3: password without user */
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_CLOSE);
    buf[2 + 7] = 0x02;
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_OK);
    /* One byte short (the RL says so too): malformed. */
    uint32_t rl = buf[1];
    assert_int_equal(ne_mqtt_decode_connect(buf + 2, rl - 1, &d, &reason), NE_MQTT_CONNECT_CLOSE);
    /* MQIsdp (3.1): closed without CONNACK, as nats-server (MQ-01). */
    static const uint8_t v31[] = {0, 6, 'M', 'Q', 'I', 's', 'd', 'p', 3, 2, 0, 60, 0, 1, 'x'};
    assert_int_equal(ne_mqtt_decode_connect(v31, sizeof(v31), &d, &reason), NE_MQTT_CONNECT_CLOSE);

    /* v5: the same faults get a CONNACK with the reason. */
    c.level = NE_MQTT_V5;
    n = connect_packet(&c);
    buf[2 + 7] |= 0x01;
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_REFUSE);
    assert_int_equal(reason, NE_MQTT_RC_MALFORMED);
    buf[2 + 7] = 0x02 | 0x18; /* will QoS 3 */
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_REFUSE);
    /* A will topic with a wildcard: Topic Name invalid. */
    c.will = true;
    c.will_topic = B("w/#");
    c.will_payload = B("");
    n = connect_packet(&c);
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_REFUSE);
    assert_int_equal(reason, NE_MQTT_RC_TOPIC_NAME_INVALID);
    c.level = NE_MQTT_V311;
    n = connect_packet(&c);
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_CLOSE);
    /* A client id that is not UTF-8: identifier rejected (MQ-06). */
    c.will = false;
    c.client_id = B("\xc0\x80");
    n = connect_packet(&c);
    assert_int_equal(decode_connect_at(n, &d, &reason), NE_MQTT_CONNECT_REFUSE);
    assert_int_equal(reason, NE_MQTT_RC_CLIENT_ID_NOT_VALID);
    /* A byte after the last field. */
    c.client_id = B("x");
    n = connect_packet(&c);
    buf[1]++;
    buf[n] = 0;
    assert_int_equal(decode_connect_at(n + 1, &d, &reason), NE_MQTT_CONNECT_CLOSE);
}

/* ---- PUBLISH --------------------------------------------------------------------------- */

static void test_publish_head_waits_for_its_bytes_and_bounds_M3_14(void **state)
{
    (void)state;
    ne_mqtt_props p;
    memset(&p, 0, sizeof(p));
    p.present = NE_MQTT_HAS(NE_MQTT_PROP_CONTENT_TYPE);
    p.content_type = B("application/octet-stream");
    ne_mqtt_props_out po = {&p, {NULL, 0}, NULL, 0};
    uint32_t payload = 100000;
    size_t n = ne_mqtt_encode_publish_head(buf, sizeof(buf), NE_MQTT_V5, 0x34, B("big/topic"), 7,
                                           &po, payload);
    assert_true(n > 0);
    uint8_t first;
    uint32_t rl, hl;
    assert_int_equal(ne_mqtt_fixed_header(buf, n, &first, &rl, &hl), NE_OK);
    assert_int_equal(rl, n - hl + payload);
    uint32_t head = (uint32_t)(n - hl);
    ne_mqtt_publish d;
    uint8_t reason;
    /* Every prefix shorter than the head waits; the head alone decodes. */
    for (uint32_t avail = 0; avail < head; avail++) {
        assert_int_equal(
            ne_mqtt_decode_publish(first, buf + hl, avail, rl, NE_MQTT_V5, true, &d, &reason),
            NE_ERR_WOULD_BLOCK);
    }
    assert_int_equal(
        ne_mqtt_decode_publish(first, buf + hl, head, rl, NE_MQTT_V5, true, &d, &reason), NE_OK);
    assert_int_equal(d.qos, 2);
    assert_int_equal(d.head_len, head);
    assert_int_equal(d.payload_len, payload);
    /* A topic length running past the Remaining Length: malformed. */
    static const uint8_t past[] = {0x00, 0x05, 'a', 'b'};
    assert_int_equal(ne_mqtt_decode_publish(0x30, past, 4, 4, NE_MQTT_V311, true, &d, &reason),
                     NE_ERR_PARSE);
    assert_int_equal(reason, NE_MQTT_RC_MALFORMED);
    /* QoS 3 (M3-03), packet id 0 (M3-16). */
    static const uint8_t q[] = {0x00, 0x01, 'a', 0x00, 0x00};
    assert_int_equal(ne_mqtt_decode_publish(0x36, q, 5, 5, NE_MQTT_V311, true, &d, &reason),
                     NE_ERR_PARSE);
    assert_int_equal(reason, NE_MQTT_RC_MALFORMED);
    assert_int_equal(ne_mqtt_decode_publish(0x32, q, 5, 5, NE_MQTT_V311, true, &d, &reason),
                     NE_ERR_PARSE);
    assert_int_equal(reason, NE_MQTT_RC_PROTOCOL_ERROR);
    /* v5 without a property length: malformed. */
    static const uint8_t noprops[] = {0x00, 0x01, 'a'};
    assert_int_equal(ne_mqtt_decode_publish(0x30, noprops, 3, 3, NE_MQTT_V5, true, &d, &reason),
                     NE_ERR_PARSE);
    /* A topic that is not UTF-8 (M3-10). */
    static const uint8_t bad[] = {0x00, 0x02, 0xed, 0xa0};
    assert_int_equal(ne_mqtt_decode_publish(0x30, bad, 4, 4, NE_MQTT_V311, true, &d, &reason),
                     NE_ERR_PARSE);
    /* Empty payload, empty topic (v5 aliases) decode. */
    static const uint8_t empty[] = {0x00, 0x00, 0x00};
    assert_int_equal(ne_mqtt_decode_publish(0x30, empty, 3, 3, NE_MQTT_V5, true, &d, &reason),
                     NE_OK);
    assert_int_equal(d.topic.len, 0);
    assert_int_equal(d.payload_len, 0);
}

static void test_property_length_at_its_vbi_boundaries_M5_02(void **state)
{
    (void)state;
    /* Property blocks of 127 and 128 bytes: one- and two-byte lengths. */
    for (uint32_t want = 126; want <= 129; want++) {
        uint8_t extra[256];
        /* A user property of key "k" and a value making the block `want`. */
        uint32_t vlen = want - 1 - 2 - 1 - 2;
        uint8_t value[256];
        memset(value, 'v', vlen);
        size_t e =
            ne_mqtt_prop_put_pair(extra, sizeof(extra), B("k"), (ne_mqtt_bytes){value, vlen});
        assert_int_equal(e, want);
        ne_mqtt_props_out po = {NULL, {extra, (uint32_t)e}, NULL, 0};
        assert_int_equal(ne_mqtt_props_size(&po), want);
        size_t n =
            ne_mqtt_encode_publish_head(buf, sizeof(buf), NE_MQTT_V5, 0x30, B("t"), 0, &po, 0);
        uint32_t body = 3 + ne_mqtt_vbi_size(want) + want;
        assert_int_equal(n, 1 + ne_mqtt_vbi_size(body) + body);
        uint8_t first;
        uint32_t rl, hl;
        assert_int_equal(ne_mqtt_fixed_header(buf, n, &first, &rl, &hl), NE_OK);
        ne_mqtt_publish d;
        uint8_t reason;
        assert_int_equal(
            ne_mqtt_decode_publish(first, buf + hl, rl, rl, NE_MQTT_V5, true, &d, &reason), NE_OK);
        assert_int_equal(d.props.raw.len, want);
        assert_int_equal(d.props.user_count, 1);
        /* One byte less than the property length says: malformed. */
        assert_int_equal(
            ne_mqtt_decode_publish(first, buf + hl, rl - 1, rl - 1, NE_MQTT_V5, true, &d, &reason),
            NE_ERR_PARSE);
        assert_int_equal(reason, NE_MQTT_RC_MALFORMED);
    }
}

static void test_publish_at_the_largest_remaining_length_M3_07(void **state)
{
    (void)state;
    /* A head for the largest payload the Remaining Length can announce,
     * and one byte more. */
    uint32_t head = 2 + 1;
    size_t n = ne_mqtt_encode_publish_head(buf, 64, NE_MQTT_V311, 0x30, B("t"), 0, NULL,
                                           NE_MQTT_MAX_REMAINING - head);
    assert_int_equal(n, 1 + 4 + head);
    assert_int_equal(ne_mqtt_encode_publish_head(buf, 64, NE_MQTT_V311, 0x30, B("t"), 0, NULL,
                                                 NE_MQTT_MAX_REMAINING - head + 1),
                     0);
}

/* ---- Acks, SUBSCRIBE, DISCONNECT, AUTH ----------------------------------------------------- */

static void test_acks_short_and_long_forms_M3_06_M5_05(void **state)
{
    (void)state;
    ne_mqtt_ack a;
    uint8_t reason;
    static const uint8_t two[] = {0x00, 0x05};
    static const uint8_t three[] = {0x00, 0x05, 0x10};
    static const uint8_t four[] = {0x00, 0x05, 0x80, 0x00};
    assert_int_equal(ne_mqtt_decode_ack(two, 2, NE_MQTT_V311, &a, &reason), NE_OK);
    assert_int_equal(a.packet_id, 5);
    assert_int_equal(ne_mqtt_decode_ack(three, 3, NE_MQTT_V311, &a, &reason), NE_ERR_PARSE);
    assert_int_equal(ne_mqtt_decode_ack(three, 3, NE_MQTT_V5, &a, &reason), NE_OK);
    assert_int_equal(a.reason, 0x10);
    assert_int_equal(ne_mqtt_decode_ack(four, 4, NE_MQTT_V5, &a, &reason), NE_OK);
    assert_int_equal(a.reason, 0x80);
    assert_int_equal(ne_mqtt_decode_ack(two, 1, NE_MQTT_V5, &a, &reason), NE_ERR_PARSE);
    static const uint8_t zero[] = {0x00, 0x00};
    assert_int_equal(ne_mqtt_decode_ack(zero, 2, NE_MQTT_V5, &a, &reason), NE_ERR_PARSE);
    assert_int_equal(reason, NE_MQTT_RC_PROTOCOL_ERROR);
    /* Encoding: success without properties is the two-byte form. */
    uint8_t out[16];
    assert_int_equal(ne_mqtt_encode_ack(out, sizeof(out), NE_MQTT_V5, NE_MQTT_PUBREL, 1, 0, NULL),
                     4);
    assert_memory_equal(out, "\x62\x02\x00\x01", 4);
    assert_int_equal(
        ne_mqtt_encode_ack(out, sizeof(out), NE_MQTT_V5, NE_MQTT_PUBACK, 1, 0x10, NULL), 5);
    assert_memory_equal(out, "\x40\x03\x00\x01\x10", 5);
    assert_int_equal(ne_mqtt_encode_ack(out, 4, NE_MQTT_V5, NE_MQTT_PUBACK, 1, 0x10, NULL), 0);
    assert_int_equal(
        ne_mqtt_encode_ack(out, sizeof(out), NE_MQTT_V311, NE_MQTT_PUBACK, 1, 0x10, NULL), 4);
}

static void test_subscribe_filters_and_options_M3_27_M5_31(void **state)
{
    (void)state;
    ne_mqtt_bytes filters[3] = {B("a/+"), B("$share/g/b/#"), B("c")};
    ne_mqtt_sub_options opts[3] = {{1, true, false, 0}, {2, false, true, 2}, {0, false, false, 1}};
    uint32_t id = 42;
    ne_mqtt_props_out po = {NULL, {NULL, 0}, &id, 1};
    size_t n = ne_mqtt_encode_subscribe(buf, sizeof(buf), NE_MQTT_V5, 9, &po, filters, opts, 3);
    assert_true(n > 0);
    assert_int_equal(buf[0], 0x82);
    uint8_t first;
    uint32_t rl, hl;
    assert_int_equal(ne_mqtt_fixed_header(buf, n, &first, &rl, &hl), NE_OK);
    ne_mqtt_subscribe s;
    uint8_t reason;
    assert_int_equal(ne_mqtt_decode_subscribe(first, buf + hl, rl, NE_MQTT_V5, &s, &reason), NE_OK);
    assert_int_equal(s.packet_id, 9);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.props.sub_id_count, 1);
    assert_int_equal(s.props.sub_ids[0], 42);
    uint32_t pos = 0;
    ne_mqtt_bytes f;
    ne_mqtt_sub_options o;
    for (int i = 0; i < 3; i++) {
        assert_true(ne_mqtt_next_filter(&s, &pos, &f, &o));
        assert_int_equal(f.len, filters[i].len);
        assert_int_equal(o.qos, opts[i].qos);
        assert_int_equal(o.no_local, opts[i].no_local);
        assert_int_equal(o.retain_as_published, opts[i].retain_as_published);
        assert_int_equal(o.retain_handling, opts[i].retain_handling);
    }
    assert_false(ne_mqtt_next_filter(&s, &pos, &f, &o));

    static const struct {
        const char *body;
        uint32_t len;
        uint8_t version;
        uint8_t reason;
    } faults[] = {
        {"\x00\x01", 2, NE_MQTT_V311, NE_MQTT_RC_PROTOCOL_ERROR}, /* no filter */
        {"\x00\x00\x00\x01"
         "a\x00",
         6, NE_MQTT_V311, NE_MQTT_RC_PROTOCOL_ERROR},                    /* id 0 */
        {"\x00\x01\x00\x00\x00", 5, NE_MQTT_V311, NE_MQTT_RC_MALFORMED}, /* empty filter */
        {"\x00\x01\x00\x01"
         "a\x04",
         6, NE_MQTT_V311, NE_MQTT_RC_MALFORMED}, /* v3 upper bits */
        {"\x00\x01\x00\x01"
         "a\x03",
         6, NE_MQTT_V311, NE_MQTT_RC_MALFORMED}, /* v3 QoS 3 */
        {"\x00\x01\x00\x00\x01"
         "a\x03",
         7, NE_MQTT_V5, NE_MQTT_RC_PROTOCOL_ERROR}, /* QoS 3 */
        {"\x00\x01\x00\x00\x01"
         "a\x30",
         7, NE_MQTT_V5, NE_MQTT_RC_PROTOCOL_ERROR}, /* RH 3 */
        {"\x00\x01\x00\x00\x01"
         "a\xc0",
         7, NE_MQTT_V5, NE_MQTT_RC_MALFORMED}, /* reserved */
        {"\x00\x01\x00\x00\x02"
         "a",
         6, NE_MQTT_V5, NE_MQTT_RC_MALFORMED},                                 /* short */
        {"\x00\x01\x00\x00\x01\x00\x01", 7, NE_MQTT_V5, NE_MQTT_RC_MALFORMED}, /* U+0000 */
    };
    for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
        reason = 0;
        int rc = ne_mqtt_decode_subscribe(0x82, (const uint8_t *)faults[i].body, faults[i].len,
                                          faults[i].version, &s, &reason);
        if (rc != NE_ERR_PARSE || reason != faults[i].reason) {
            fail_msg("case %zu: rc %d reason 0x%02x", i, rc, reason);
        }
    }
    /* UNSUBSCRIBE: filters without options. */
    n = ne_mqtt_encode_subscribe(buf, sizeof(buf), NE_MQTT_V311, 3, NULL, filters, NULL, 2);
    assert_int_equal(buf[0], 0xa2);
    assert_int_equal(ne_mqtt_fixed_header(buf, n, &first, &rl, &hl), NE_OK);
    assert_int_equal(ne_mqtt_decode_subscribe(first, buf + hl, rl, NE_MQTT_V311, &s, &reason),
                     NE_OK);
    assert_int_equal(s.count, 2);
    assert_true(s.unsubscribe);
}

static void test_suback_unsuback_disconnect_auth_round_trip_M3_28_M5_06(void **state)
{
    (void)state;
    static const uint8_t codes[] = {0x00, 0x01, 0x80};
    uint8_t first;
    uint32_t rl, hl;
    uint8_t reason;
    ne_mqtt_suback sa;
    size_t n =
        ne_mqtt_encode_suback(buf, sizeof(buf), NE_MQTT_V311, NE_MQTT_SUBACK, 7, NULL, codes, 3);
    assert_int_equal(n, 2 + 2 + 3);
    assert_memory_equal(buf, "\x90\x05\x00\x07\x00\x01\x80", 7);
    assert_int_equal(ne_mqtt_fixed_header(buf, n, &first, &rl, &hl), NE_OK);
    assert_int_equal(ne_mqtt_decode_suback(first, buf + hl, rl, NE_MQTT_V311, &sa, &reason), NE_OK);
    assert_int_equal(sa.codes.len, 3);
    n = ne_mqtt_encode_suback(buf, sizeof(buf), NE_MQTT_V311, NE_MQTT_UNSUBACK, 7, NULL, codes, 3);
    assert_memory_equal(buf, "\xb0\x02\x00\x07", 4);
    assert_int_equal(n, 4);
    /* MB-37: v5 UNSUBACK with one code per filter. */
    static const uint8_t none[] = {0x11, 0x11};
    n = ne_mqtt_encode_suback(buf, sizeof(buf), NE_MQTT_V5, NE_MQTT_UNSUBACK, 4, NULL, none, 2);
    assert_int_equal(n, 7);
    assert_memory_equal(buf, "\xb0\x05\x00\x04\x00\x11\x11", 7);
    assert_int_equal(ne_mqtt_encode_suback(buf, 6, NE_MQTT_V5, NE_MQTT_UNSUBACK, 4, NULL, none, 2),
                     0);

    ne_mqtt_disconnect d;
    n = ne_mqtt_encode_disconnect(buf, sizeof(buf), NE_MQTT_V5, NE_MQTT_RC_SESSION_TAKEN_OVER,
                                  NULL);
    assert_int_equal(n, 3);
    assert_memory_equal(buf, "\xe0\x01\x8e", 3);
    assert_int_equal(ne_mqtt_decode_disconnect(buf + 2, 1, NE_MQTT_V5, &d, &reason), NE_OK);
    assert_int_equal(d.reason, 0x8e);
    assert_int_equal(ne_mqtt_decode_disconnect(buf + 2, 0, NE_MQTT_V5, &d, &reason), NE_OK);
    assert_int_equal(d.reason, 0);
    assert_int_equal(ne_mqtt_decode_disconnect(buf + 2, 1, NE_MQTT_V311, &d, &reason),
                     NE_ERR_PARSE);
    assert_int_equal(ne_mqtt_encode_disconnect(buf, sizeof(buf), NE_MQTT_V311, 0, NULL), 2);
    ne_mqtt_props p;
    memset(&p, 0, sizeof(p));
    p.present = NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY);
    p.session_expiry = 30;
    ne_mqtt_props_out po = {&p, {NULL, 0}, NULL, 0};
    n = ne_mqtt_encode_disconnect(buf, sizeof(buf), NE_MQTT_V5, 0, &po);
    assert_int_equal(n, 2 + 1 + 1 + 5);
    assert_int_equal(ne_mqtt_decode_disconnect(buf + 2, (uint32_t)n - 2, NE_MQTT_V5, &d, &reason),
                     NE_OK);
    assert_int_equal(d.props.session_expiry, 30);

    /* AUTH needs its method (M5-11). */
    p.present = NE_MQTT_HAS(NE_MQTT_PROP_AUTH_METHOD);
    p.auth_method = B("SCRAM-SHA-1");
    n = ne_mqtt_encode_auth(buf, sizeof(buf), NE_MQTT_RC_CONTINUE_AUTHENTICATION, &po);
    assert_true(n > 0);
    assert_int_equal(ne_mqtt_decode_auth(buf + 2, (uint32_t)n - 2, &d, &reason), NE_OK);
    assert_int_equal(ne_mqtt_decode_auth(buf + 2, 0, &d, &reason), NE_ERR_PARSE);
    assert_int_equal(reason, NE_MQTT_RC_PROTOCOL_ERROR);

    uint8_t ping[2];
    assert_int_equal(ne_mqtt_encode_empty(ping, 2, NE_MQTT_PINGRESP), 2);
    assert_memory_equal(ping, "\xd0\x00", 2);
    assert_int_equal(ne_mqtt_encode_empty(ping, 1, NE_MQTT_PINGRESP), 0);
}

static void test_connack_bytes_match_the_references_MB_01_MQ_06(void **state)
{
    (void)state;
    uint8_t out[32];
    assert_int_equal(ne_mqtt_encode_connack(out, sizeof(out), NE_MQTT_V311, false, 0, NULL), 4);
    assert_memory_equal(out, "\x20\x02\x00\x00", 4);
    assert_int_equal(ne_mqtt_encode_connack(out, sizeof(out), NE_MQTT_V311, true, 0, NULL), 4);
    assert_memory_equal(out, "\x20\x02\x01\x00", 4);
    ne_mqtt_props p;
    memset(&p, 0, sizeof(p));
    p.present =
        NE_MQTT_HAS(NE_MQTT_PROP_TOPIC_ALIAS_MAXIMUM) | NE_MQTT_HAS(NE_MQTT_PROP_RECEIVE_MAXIMUM);
    p.topic_alias_maximum = 10;
    p.receive_maximum = 20;
    ne_mqtt_props_out po = {&p, {NULL, 0}, NULL, 0};
    /* Identifier order: Receive Maximum (0x21) before Topic Alias Maximum. */
    assert_int_equal(ne_mqtt_encode_connack(out, sizeof(out), NE_MQTT_V5, false, 0, &po), 11);
    assert_memory_equal(out, "\x20\x09\x00\x00\x06\x21\x00\x14\x22\x00\x0a", 11);
    assert_int_equal(ne_mqtt_encode_connack(out, sizeof(out), NE_MQTT_V5, false, 0x8c, NULL), 5);
    assert_memory_equal(out, "\x20\x03\x00\x8c\x00", 5); /* MB-08 */
}

/* ---- Topics and subjects ---------------------------------------------------------------- */

static void test_topic_subject_mapping_is_nats_server_2_10s_MQ_13_MQ_14_MQ_16(void **state)
{
    (void)state;
    /* nats-server v2.10.0 server/mqtt_test.go TestMQTTTopicAndSubjectConversion. */
    static const char *const cases[][2] = {
        {"/", "/./"},
        {"//", "/././"},
        {"///", "/./././"},
        {"////", "/././././"},
        {"foo", "foo"},
        {"/foo", "/.foo"},
        {"//foo", "/./.foo"},
        {"///foo", "/././.foo"},
        {"///foo/", "/././.foo./"},
        {"///foo//", "/././.foo././"},
        {"///foo///", "/././.foo./././"},
        {"//.foo.//", "/././/foo//././"},
        {"foo/bar", "foo.bar"},
        {"/foo/bar", "/.foo.bar"},
        {"/foo/bar/", "/.foo.bar./"},
        {"foo/bar/baz", "foo.bar.baz"},
        {"/foo/bar/baz", "/.foo.bar.baz"},
        {"/foo/bar/baz/", "/.foo.bar.baz./"},
        {"bar/", "bar./"},
        {"bar//", "bar././"},
        {"bar///", "bar./././"},
        {"foo//bar", "foo./.bar"},
        {"foo///bar", "foo././.bar"},
        {"foo////bar", "foo./././.bar"},
        {".", "//"},
        {"..", "////"},
        {"...", "//////"},
        {"./", "//./"},
        {".//.", "//././/"},
        {"././.", "//.//.//"},
        {"././/.", "//.//././/"},
        {".foo", "//foo"},
        {"foo.", "foo//"},
        {".foo.", "//foo//"},
        {"foo../bar/", "foo////.bar./"},
        {"foo../bar/.", "foo////.bar.//"},
        {"/foo/", "/.foo./"},
        {"./foo/.", "//.foo.//"},
        {"foo.bar/baz", "foo//bar.baz"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *topic = cases[i][0];
        const char *subject = cases[i][1];
        char s[64];
        size_t n = 0;
        assert_int_equal(ne_mqtt_topic_to_subject((const uint8_t *)topic, strlen(topic), false, s,
                                                  sizeof(s), &n),
                         NE_OK);
        if (n != strlen(subject) || memcmp(s, subject, n) != 0) {
            fail_msg("%s -> %.*s, want %s", topic, (int)n, s, subject);
        }
        /* Exactly its room; one byte less refused whole. */
        assert_int_equal(
            ne_mqtt_topic_to_subject((const uint8_t *)topic, strlen(topic), false, s, n, &n),
            NE_OK);
        assert_int_equal(
            ne_mqtt_topic_to_subject((const uint8_t *)topic, strlen(topic), false, s, n - 1, &n),
            NE_ERR_TOO_BIG);
        uint8_t t[64];
        size_t m = 0;
        assert_int_equal(ne_mqtt_subject_to_topic(subject, strlen(subject), t, sizeof(t), &m),
                         NE_OK);
        if (m != strlen(topic) || memcmp(t, topic, m) != 0) {
            fail_msg("%s -> %.*s, want %s", subject, (int)m, t, topic);
        }
    }
    char s[64];
    size_t n;
    static const char *const refused[] = {"foo/+", "foo/#", "foo bar", "a\tb", "a\x7f", ""};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(ne_mqtt_topic_to_subject((const uint8_t *)refused[i], strlen(refused[i]),
                                                  false, s, sizeof(s), &n),
                         NE_ERR_INVALID);
    }
}

static void test_filter_mapping_MQ_15(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"+", "*"},
        {"/+", "/.*"},
        {"+/", "*./"},
        {"/+/", "/.*./"},
        {"foo/+", "foo.*"},
        {"foo/+/", "foo.*./"},
        {"foo/+/bar", "foo.*.bar"},
        {"foo//+//bar", "foo./.*./.bar"},
        {"foo.bar///+///baz", "foo//bar././.*././.baz"},
        {"#", ">"},
        {"/#", "/.>"},
        {"foo/#", "foo.>"},
        {"foo//#", "foo./.>"},
        {"foo/bar.baz/#", "foo.bar//baz.>"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char s[64];
        size_t n = 0;
        assert_int_equal(ne_mqtt_topic_to_subject((const uint8_t *)cases[i][0], strlen(cases[i][0]),
                                                  true, s, sizeof(s), &n),
                         NE_OK);
        if (n != strlen(cases[i][1]) || memcmp(s, cases[i][1], n) != 0) {
            fail_msg("%s -> %.*s, want %s", cases[i][0], (int)n, s, cases[i][1]);
        }
    }
}

static void test_filters_topics_and_shares_M3_43_M3_44_M5_36(void **state)
{
    (void)state;
#define T(s) (const uint8_t *)(s), strlen(s)
    assert_true(ne_mqtt_topic_name_valid(T("/")));
    assert_false(ne_mqtt_topic_name_valid(T("")));
    assert_false(ne_mqtt_topic_name_valid(T("a/+")));
    static const char *const good[] = {"#",   "+",   "a/#", "+/+", "/+", "a/+/b", "sport/+/player1",
                                       "+/#", "a//#"};
    static const char *const bad[] = {"", "a/#/b", "a+", "a#", "#a", "a/b#", "+a/b", "a/++"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_true(ne_mqtt_filter_valid(T(good[i])));
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(ne_mqtt_filter_valid(T(bad[i])));
    }
    const uint8_t *g, *r;
    size_t gl, rl;
    assert_int_equal(ne_mqtt_shared_split(T("$share/grp/a/+"), &g, &gl, &r, &rl), 1);
    assert_int_equal(gl, 3);
    assert_memory_equal(g, "grp", 3);
    assert_int_equal(rl, 3);
    assert_int_equal(ne_mqtt_shared_split(T("a/b"), &g, &gl, &r, &rl), 0);
    assert_int_equal(ne_mqtt_shared_split(T("$share/g"), &g, &gl, &r, &rl), -1);
    assert_int_equal(ne_mqtt_shared_split(T("$share//x"), &g, &gl, &r, &rl), -1);
    assert_int_equal(ne_mqtt_shared_split(T("$share/g+/x"), &g, &gl, &r, &rl), -1);
    assert_int_equal(ne_mqtt_shared_split(T("$share/#/x"), &g, &gl, &r, &rl), -1);
    assert_int_equal(ne_mqtt_shared_split(T("$share/g/"), &g, &gl, &r, &rl), -1);
}

static void test_topic_matching_M3_45_M3_46_MB_36(void **state)
{
    (void)state;
    static const struct {
        const char *filter;
        const char *topic;
        bool match;
    } cases[] = {
        {"#", "a", true},         {"#", "$d/x", false},       {"+/x", "$d/x", false},
        {"$d/#", "$d/x", true},   {"sport/#", "sport", true}, {"+/+", "/finance", true},
        {"/+", "/finance", true}, {"+", "/finance", false},   {"+", "sport", true},
        {"a/+/b", "a//b", true},  {"a/+", "a/", true},        {"a/+", "a", false},
        {"a/b", "a/b", true},     {"a/b", "a/bc", false},     {"a/#", "a/b/c", true},
        {"a/+/c", "a/b/c", true}, {"a/+/c", "a/b/d", false},  {"a", "a/b", false},
        {"a/b/c", "a/b", false},  {"/#", "/", true},          {"+/+", "/", true},
        {"$SYS/#", "$SYS", true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        if (ne_mqtt_topic_matches(T(cases[i].filter), T(cases[i].topic)) != cases[i].match) {
            fail_msg("%s vs %s: want %d", cases[i].filter, cases[i].topic, cases[i].match);
        }
    }
#undef T
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vbi_sizes_at_every_boundary_M3_07),
        cmocka_unit_test(test_fixed_header_waits_then_refuses_a_fifth_byte_M3_07),
        cmocka_unit_test(test_fixed_flags_per_type_M3_02),
        cmocka_unit_test(test_utf8_rules_M3_10_M3_11_M3_13),
        cmocka_unit_test(test_every_property_round_trips_in_its_packets_M5_10),
        cmocka_unit_test(test_message_properties_are_forwarded_in_order_M5_14_MB_41),
        cmocka_unit_test(test_property_faults_are_malformed_or_protocol_errors_M5_08_M5_09_M5_11),
        cmocka_unit_test(test_connect_v3_and_v5_decode_whole_M3_19_M3_20),
        cmocka_unit_test(test_connect_faults_close_or_refuse_by_version_M3_19_M3_21_MB_04_MB_09),
        cmocka_unit_test(test_publish_head_waits_for_its_bytes_and_bounds_M3_14),
        cmocka_unit_test(test_property_length_at_its_vbi_boundaries_M5_02),
        cmocka_unit_test(test_publish_at_the_largest_remaining_length_M3_07),
        cmocka_unit_test(test_acks_short_and_long_forms_M3_06_M5_05),
        cmocka_unit_test(test_subscribe_filters_and_options_M3_27_M5_31),
        cmocka_unit_test(test_suback_unsuback_disconnect_auth_round_trip_M3_28_M5_06),
        cmocka_unit_test(test_connack_bytes_match_the_references_MB_01_MQ_06),
        cmocka_unit_test(test_topic_subject_mapping_is_nats_server_2_10s_MQ_13_MQ_14_MQ_16),
        cmocka_unit_test(test_filter_mapping_MQ_15),
        cmocka_unit_test(test_filters_topics_and_shares_M3_43_M3_44_M5_36),
        cmocka_unit_test(test_topic_matching_M3_45_M3_46_MB_36),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
