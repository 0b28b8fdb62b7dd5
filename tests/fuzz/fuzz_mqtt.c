/* libFuzzer harness for MQTT. The first byte picks:
 *   bit 0:   the protocol version of the packets (3.1.1 or 5.0);
 *   bits 1-2: 0: the rest is a stream of packets, each decoded by its
 *             type (both directions' decoders), every decoded field read,
 *             a decoded CONNECT, PUBLISH and SUBSCRIBE encoded again and
 *             decoded to the same fields, the topic mapping checked to
 *             round-trip; 1: the rest is what an MQTT client sends a server
 *             (port/sim) after a CONNECT of that version (bit 3: from its
 *             first byte, CONNECT included), in pieces of (bits 4-7) * 16 + 1
 *             bytes, while a 3.1.1 and a 5.0 session subscribed to "#" at
 *             QoS 2 and a NATS client subscribed to ">" receive, and a
 *             persistent session comes and goes; after shutdown every pool
 *             must be back to idle; 2-3: the rest is a topic (or filter)
 *             and a second one: mapping, matching and shared-subscription
 *             parsing.
 * Nothing may crash, read out of bounds or break an invariant (abort). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ne_error.h"
#include "mqtt/ne_mqtt_codec.h"
#include "mqtt/ne_mqtt_topic.h"
#include "server/ne_server.h"
#include "sim/ne_sim_net.h"

static uint8_t out[1 << 17];
static uint8_t scratch[1 << 17];

static void fail_if(int cond)
{
    if (cond) {
        abort();
    }
}

static void read_props(const ne_mqtt_props *p)
{
    uint32_t pos = 0;
    ne_mqtt_bytes k, v;
    uint32_t users = 0;
    while (ne_mqtt_props_next_user(p, &pos, &k, &v)) {
        fail_if(k.ptr < p->raw.ptr || k.ptr + k.len > p->raw.ptr + p->raw.len);
        fail_if(v.ptr < p->raw.ptr || v.ptr + v.len > p->raw.ptr + p->raw.len);
        users++;
    }
    fail_if(users != p->user_count);
    int32_t m = ne_mqtt_props_message(p, scratch, sizeof(scratch));
    fail_if(m < 0 || (uint32_t)m > p->raw.len);
    /* The message's properties are a valid block of their own. */
    ne_mqtt_props again;
    uint8_t reason;
    fail_if(ne_mqtt_props_decode(scratch, (uint32_t)m, NE_MQTT_CTX_PUBLISH, true, &again,
                                 &reason) != NE_OK);
    fail_if(again.user_count != p->user_count);
}

/* A valid topic name maps to a subject and back to itself. */
static void check_mapping(const uint8_t *t, size_t len, bool filter)
{
    char subject[512];
    size_t n = 0;
    int rc = ne_mqtt_topic_to_subject(t, len, filter, subject, sizeof(subject), &n);
    if (rc != NE_OK) {
        return;
    }
    fail_if(n == 0 || n > sizeof(subject));
    if (filter) {
        return;
    }
    uint8_t back[512];
    size_t m = 0;
    fail_if(ne_mqtt_subject_to_topic(subject, n, back, sizeof(back), &m) != NE_OK);
    fail_if(m != len || memcmp(back, t, len) != 0);
}

static void connect_again(const ne_mqtt_connect *c)
{
    ne_mqtt_props_out props = {NULL, c->props.raw, NULL, 0};
    ne_mqtt_props_out will_props = {NULL, c->will_props.raw, NULL, 0};
    ne_mqtt_connect_out o = {c->level,        c->clean_start, c->keep_alive_s, &props,
                             c->client_id,    c->will,        c->will_qos,     c->will_retain,
                             &will_props,     c->will_topic,  c->will_payload, c->has_user,
                             c->has_password, c->user,        c->password};
    size_t n = ne_mqtt_encode_connect(out, sizeof(out), &o);
    if (n == 0) {
        return;
    }
    uint8_t first;
    uint32_t rl, hl;
    fail_if(ne_mqtt_fixed_header(out, n, &first, &rl, &hl) != NE_OK || hl + rl != n);
    ne_mqtt_connect d;
    uint8_t reason;
    fail_if(ne_mqtt_decode_connect(out + hl, rl, &d, &reason) != NE_MQTT_CONNECT_OK);
    fail_if(d.level != c->level || d.keep_alive_s != c->keep_alive_s ||
            d.client_id.len != c->client_id.len || d.will != c->will ||
            d.props.present != c->props.present || d.password.len != c->password.len);
}

static void publish_again(uint8_t first, const ne_mqtt_publish *p, uint8_t version)
{
    ne_mqtt_props_out props = {NULL, p->props.raw, NULL, 0};
    size_t n = ne_mqtt_encode_publish_head(out, sizeof(out), version, first, p->topic, p->packet_id,
                                           &props, p->payload_len);
    if (n == 0) {
        return;
    }
    uint8_t f;
    uint32_t rl, hl;
    fail_if(ne_mqtt_fixed_header(out, n, &f, &rl, &hl) != NE_OK || f != first);
    ne_mqtt_publish d;
    uint8_t reason;
    fail_if(ne_mqtt_decode_publish(f, out + hl, (uint32_t)n - hl, rl, version, false, &d,
                                   &reason) != NE_OK);
    fail_if(d.topic.len != p->topic.len || d.packet_id != p->packet_id ||
            d.payload_len != p->payload_len || d.props.present != p->props.present);
    check_mapping(p->topic.ptr, p->topic.len, false);
}

static void subscribe_read(const ne_mqtt_subscribe *s, uint8_t version)
{
    uint32_t pos = 0;
    ne_mqtt_bytes f;
    ne_mqtt_sub_options o;
    uint32_t count = 0;
    ne_mqtt_bytes filters[64];
    ne_mqtt_sub_options opts[64];
    while (ne_mqtt_next_filter(s, &pos, &f, &o)) {
        if (count < 64) {
            filters[count] = f;
            opts[count] = o;
        }
        count++;
        (void)ne_mqtt_filter_valid(f.ptr, f.len);
        const uint8_t *g, *r;
        size_t gl, rl;
        if (ne_mqtt_shared_split(f.ptr, f.len, &g, &gl, &r, &rl) == 1) {
            fail_if(gl == 0 || rl == 0 || r + rl != f.ptr + f.len);
        }
        check_mapping(f.ptr, f.len, true);
    }
    fail_if(count != s->count);
    if (count > 64) {
        return;
    }
    ne_mqtt_props_out props = {NULL, s->props.raw, NULL, 0};
    size_t n = ne_mqtt_encode_subscribe(out, sizeof(out), version, s->packet_id, &props, filters,
                                        s->unsubscribe ? NULL : opts, count);
    fail_if(n == 0);
    uint8_t first;
    uint32_t rl, hl;
    fail_if(ne_mqtt_fixed_header(out, n, &first, &rl, &hl) != NE_OK);
    ne_mqtt_subscribe d;
    uint8_t reason;
    fail_if(ne_mqtt_decode_subscribe(first, out + hl, rl, version, &d, &reason) != NE_OK);
    fail_if(d.count != count);
}

static void decode_one(uint8_t first, const uint8_t *body, uint32_t len, uint8_t version)
{
    uint8_t reason = 0;
    switch (first >> 4) {
    case NE_MQTT_CONNECT: {
        ne_mqtt_connect c;
        if (ne_mqtt_decode_connect(body, len, &c, &reason) == NE_MQTT_CONNECT_OK) {
            read_props(&c.props);
            read_props(&c.will_props);
            connect_again(&c);
        }
        break;
    }
    case NE_MQTT_CONNACK: {
        ne_mqtt_connack c;
        if (ne_mqtt_decode_connack(body, len, version, &c, &reason) == NE_OK) {
            read_props(&c.props);
        }
        break;
    }
    case NE_MQTT_PUBLISH: {
        ne_mqtt_publish p;
        /* Every prefix: waits, or decodes the same head. */
        int whole = ne_mqtt_decode_publish(first, body, len, len, version, true, &p, &reason);
        for (uint32_t avail = 0; avail < len && avail < 64; avail++) {
            ne_mqtt_publish q;
            int rc = ne_mqtt_decode_publish(first, body, avail, len, version, true, &q, &reason);
            fail_if(rc == NE_OK && (whole != NE_OK || q.head_len != p.head_len));
        }
        if (whole == NE_OK) {
            fail_if(p.head_len + p.payload_len != len);
            read_props(&p.props);
            publish_again(first, &p, version);
        }
        break;
    }
    case NE_MQTT_PUBACK:
    case NE_MQTT_PUBREC:
    case NE_MQTT_PUBREL:
    case NE_MQTT_PUBCOMP: {
        ne_mqtt_ack a;
        if (ne_mqtt_decode_ack(body, len, version, &a, &reason) == NE_OK) {
            read_props(&a.props);
            size_t n = ne_mqtt_encode_ack(out, sizeof(out), version, (ne_mqtt_type)(first >> 4),
                                          a.packet_id, a.reason,
                                          &(ne_mqtt_props_out){NULL, a.props.raw, NULL, 0});
            fail_if(n == 0);
        }
        break;
    }
    case NE_MQTT_SUBSCRIBE:
    case NE_MQTT_UNSUBSCRIBE: {
        ne_mqtt_subscribe s;
        if (ne_mqtt_decode_subscribe(first, body, len, version, &s, &reason) == NE_OK) {
            read_props(&s.props);
            subscribe_read(&s, version);
        }
        break;
    }
    case NE_MQTT_SUBACK:
    case NE_MQTT_UNSUBACK: {
        ne_mqtt_suback s;
        if (ne_mqtt_decode_suback(first, body, len, version, &s, &reason) == NE_OK) {
            read_props(&s.props);
        }
        break;
    }
    case NE_MQTT_DISCONNECT: {
        ne_mqtt_disconnect d;
        if (ne_mqtt_decode_disconnect(body, len, version, &d, &reason) == NE_OK) {
            read_props(&d.props);
        }
        break;
    }
    case NE_MQTT_AUTH: {
        ne_mqtt_disconnect d;
        if (ne_mqtt_decode_auth(body, len, &d, &reason) == NE_OK) {
            read_props(&d.props);
        }
        break;
    }
    default:
        break;
    }
}

static void fuzz_packets(const uint8_t *data, size_t size, uint8_t version)
{
    size_t pos = 0;
    /* Each pass consumes a whole packet or stops. */
    while (pos < size) {
        uint8_t first;
        uint32_t rl, hl;
        int rc = ne_mqtt_fixed_header(data + pos, size - pos, &first, &rl, &hl);
        if (rc != NE_OK) {
            return;
        }
        (void)ne_mqtt_flags_valid(first);
        uint32_t take = (uint32_t)((size - pos - hl) < rl ? (size - pos - hl) : rl);
        decode_one(first, data + pos + hl, take, version);
        pos += hl + take;
    }
}

static void fuzz_topics(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return;
    }
    size_t alen = data[0] % size;
    const uint8_t *a = data + 1;
    const uint8_t *b = a + alen;
    size_t blen = size - 1 - alen;
    bool a_filter = ne_mqtt_utf8_valid(a, alen) && ne_mqtt_filter_valid(a, alen);
    bool b_topic = ne_mqtt_utf8_valid(b, blen) && ne_mqtt_topic_name_valid(b, blen);
    check_mapping(a, alen, true);
    check_mapping(b, blen, false);
    if (a_filter && b_topic) {
        bool m = ne_mqtt_topic_matches(a, alen, b, blen);
        /* A filter that is the topic itself always matches it. */
        fail_if(alen == blen && memcmp(a, b, alen) == 0 && !m);
    }
    const uint8_t *g, *r;
    size_t gl, rl;
    if (ne_mqtt_shared_split(a, alen, &g, &gl, &r, &rl) == 1) {
        fail_if(gl == 0 || rl == 0 || r + rl != a + alen);
    }
}

/* ---- A server fed what a client sends ------------------------------------------- */

static ne_server srv;
static ne_sim_net sim;
static uint8_t sink[NE_SIM_BUFFER_BYTES];

static int mqtt_client(uint16_t port, uint8_t version, const char *id, bool clean)
{
    uint8_t pkt[64];
    ne_mqtt_props_out none = {NULL, {NULL, 0}, NULL, 0};
    ne_mqtt_props sei;
    memset(&sei, 0, sizeof(sei));
    sei.present = NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY);
    sei.session_expiry = 100;
    ne_mqtt_props_out keep = {&sei, {NULL, 0}, NULL, 0};
    ne_mqtt_connect_out c;
    memset(&c, 0, sizeof(c));
    c.level = version;
    c.clean_start = clean;
    c.keep_alive_s = 60;
    c.props = clean ? &none : &keep;
    c.client_id = (ne_mqtt_bytes){(const uint8_t *)id, (uint32_t)strlen(id)};
    c.will = true;
    c.will_qos = 1;
    c.will_topic = (ne_mqtt_bytes){(const uint8_t *)"w/t", 3};
    c.will_props = &none;
    size_t n = ne_mqtt_encode_connect(pkt, sizeof(pkt), &c);
    int h = ne_sim_connect(&sim, port);
    fail_if(h < 0 || n == 0);
    ne_sim_client_write(&sim, h, pkt, n);
    return h;
}

static void subscribe_all(int h, uint8_t version)
{
    uint8_t pkt[32];
    ne_mqtt_bytes f = {(const uint8_t *)"#", 1};
    ne_mqtt_sub_options o = {2, false, false, 0};
    size_t n = ne_mqtt_encode_subscribe(pkt, sizeof(pkt), version, 1, NULL, &f, &o, 1);
    ne_sim_client_write(&sim, h, pkt, n);
}

static void fuzz_server(const uint8_t *data, size_t size, uint8_t version, bool raw, size_t split)
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.max_payload = 64 * 1024;
    opts.max_pending = 256 * 1024;
    opts.mqtt.enabled = true;
    if (ne_server_init(&srv, &opts, &net, NULL) != 0 || ne_server_start(&srv) != 0) {
        abort();
    }
    ne_loop loop;
    ne_server_loop(&srv, &loop);
    uint16_t port = ne_server_mqtt_port(&srv);
    int s3 = mqtt_client(port, NE_MQTT_V311, "s3", true);
    int s5 = mqtt_client(port, NE_MQTT_V5, "s5", true);
    int nats = ne_sim_connect(&sim, ne_server_client_port(&srv));
    ne_sim_net_step(&sim, &loop);
    subscribe_all(s3, NE_MQTT_V311);
    subscribe_all(s5, NE_MQTT_V5);
    static const char sub[] = "CONNECT {\"verbose\":false,\"headers\":true}\r\nSUB > 1\r\n";
    ne_sim_client_write(&sim, nats, sub, sizeof(sub) - 1);
    int peer = raw ? ne_sim_connect(&sim, port) : mqtt_client(port, version, "fuzz", false);
    int offline = mqtt_client(port, NE_MQTT_V5, "gone", false);
    ne_sim_net_step(&sim, &loop);
    subscribe_all(offline, NE_MQTT_V5);
    ne_sim_net_step(&sim, &loop);
    ne_sim_client_close(&sim, offline);
    size_t pos = 0;
    for (int turn = 0; turn < 4096 && pos < size; turn++) {
        size_t n = size - pos < split ? size - pos : split;
        pos += ne_sim_client_write(&sim, peer, data + pos, n);
        ne_sim_net_step(&sim, &loop);
        ne_sim_client_read(&sim, peer, sink, sizeof(sink));
        ne_sim_client_read(&sim, s3, sink, sizeof(sink));
        ne_sim_client_read(&sim, s5, sink, sizeof(sink));
        ne_sim_client_read(&sim, nats, sink, sizeof(sink));
        if (turn % 8 == 7) {
            /* NATS traffic toward the MQTT side too. */
            static const char pub[] = "PUB a.b 1\r\nx\r\nHPUB a.c 26 28\r\n"
                                      "NATS/1.0\r\nNmqtt-Pub:2\r\n\r\nhi\r\n";
            ne_sim_client_write(&sim, nats, pub, sizeof(pub) - 1);
        }
    }
    ne_sim_client_close(&sim, peer);
    ne_sim_net_step(&sim, &loop);
    ne_server_shutdown(&srv);
    const char *busy = NULL;
    fail_if(ne_server_pools_in_use(&srv, &busy) != 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t version = (data[0] & 1) ? NE_MQTT_V5 : NE_MQTT_V311;
    uint8_t mode = (data[0] >> 1) & 3;
    if (mode == 0) {
        fuzz_packets(data + 1, size - 1, version);
    } else if (mode == 1) {
        fuzz_server(data + 1, size - 1, version, (data[0] & 8) != 0,
                    (size_t)(data[0] >> 4) * 16 + 1);
    } else {
        fuzz_topics(data + 1, size - 1);
    }
    return 0;
}
