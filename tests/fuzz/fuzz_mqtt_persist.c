/* libFuzzer harness for the loader of MQTT's persistent state
 * (src/mqtt/ne_mqtt_persist.c): what a damaged or hostile device holds in
 * the "mqtt" KV log is read back at start-up. The input is
 *   [options: 1 byte][clock: 1 byte] then records, each
 *   [kind: 1 byte][key length: 1 byte][key bytes][value length: 2 bytes, big-endian][value bytes]
 * read with bounds (a record cut short by the end takes what is there;
 * at most MAX_RECORDS). kind 0, 1, 2 prefix the key with 's' (a session:
 * client id), 'm' (a message: 8-byte big-endian id) and 'r' (a retained
 * topic); any other kind is the key's first byte itself. The records are
 * put into the log of a fresh simulated flash (32 blocks of 4 KiB), then
 * a server boots on it and loads them. Options:
 *   bit 0:    the taking-over client speaks 5.0 (else 3.1.1);
 *   bit 1:    a client connects with clean=0 as the client id of a loaded
 *             session record (bits 2-4 pick which, among the 's' records),
 *             and acknowledges what it is sent (PUBACK, PUBREC, PUBCOMP);
 *   bit 5:    a 5.0 client subscribed to "#" at QoS 2 watches (retained
 *             messages, wills);
 *   bit 6:    the taking-over client leaves with DISCONNECT (else its
 *             connection drops);
 *   bit 7:    after shutdown the server boots again on the same flash:
 *             what the first start left must load with nothing dropped.
 * The clock byte: (bits 5-7) + 1 ticks of 100 << (bits 0-4) ms each, so
 * expiries and pending wills fire. Every packet the server sends a client
 * must decode, every PUBLISH name a topic (no wildcard). After the load
 * the next message id and transaction number must not have wrapped. After
 * shutdown every pool must be back to idle. Nothing may
 * crash, read out of bounds or break an invariant (abort). The seeds
 * (tests/fuzz/corpus/fuzz_mqtt_persist) are written by
 * tools/mqtt_persist_seeds.py. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ne_error.h"
#include "mqtt/ne_mqtt_codec.h"
#include "mqtt/ne_mqtt_topic.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_flash.h"
#include "sim/ne_sim_net.h"
#include "store/ne_store_dev.h"
#include "store/ne_store_kv.h"

#define BLOCKS 32
#define ERASE_BYTES 4096
#define UNIT 16
#define MAX_RECORDS 64
#define MAX_SESSION_KEYS 8
#define KEYS 256 /* the writer's key table: 7/8 usable, more than MAX_RECORDS */
#define PACKETS_PER_READ 256

static ne_sim_flash fl;
static uint8_t image[BLOCKS * ERASE_BYTES];
static uint32_t erase_counts[BLOCKS];
static uint8_t programmed[NE_SIM_FLASH_PROGRAMMED_BYTES(BLOCKS, ERASE_BYTES, UNIT)];

static ne_store_dev wdev;
static ne_store_kv wkv;
static ne_store_subject wkeys[KEYS];
static char wkey_text[16 * 1024];
static uint8_t key[NE_STORE_MAX_SUBJECT_BYTES];

static ne_server srv;
static ne_sim_net sim;
static ne_loop loop;

typedef struct client {
    int h;
    uint8_t version;
    uint8_t buf[NE_SIM_BUFFER_BYTES];
    size_t len;
} client;
static client taker, watcher;
static uint8_t pkt[1024];

/* The client ids of the 's' records put into the log. */
static uint8_t session_ids[MAX_SESSION_KEYS][256];
static size_t session_id_len[MAX_SESSION_KEYS];
static uint32_t session_count;

static void fail_if(int cond)
{
    if (cond) {
        abort();
    }
}

/* Puts the input's records into a fresh device's "mqtt" log, as a previous
 * server would have left them. */
static void write_records(const uint8_t *data, size_t size)
{
    ne_flash_geometry g = {
        .program_bytes = UNIT, .erase_bytes = ERASE_BYTES, .block_count = BLOCKS};
    ne_sim_flash_init(&fl, g, image, erase_counts, programmed, 1);
    fail_if(ne_store_dev_open(&wdev, &fl.flash, NULL) != NE_OK);
    static const char name[] = "mqtt";
    uint32_t id = 0;
    fail_if(ne_store_dev_create(&wdev, NE_STORE_KIND_KV, 0, name, sizeof(name) - 1, NULL, 0, &id) !=
            NE_OK);
    ne_store_kv_config cfg = {.keys = wkeys,
                              .key_capacity = KEYS,
                              .key_text = wkey_text,
                              .key_text_bytes = sizeof(wkey_text),
                              .max_blocks = 0};
    fail_if(ne_store_kv_attach(&wkv, &wdev, id, &cfg) != NE_OK);
    session_count = 0;
    size_t pos = 0;
    for (uint32_t n = 0; n < MAX_RECORDS && pos + 2 <= size; n++) {
        uint8_t kind = data[pos];
        size_t key_len = data[pos + 1];
        pos += 2;
        key_len = key_len < size - pos ? key_len : size - pos;
        key[0] = kind == 0 ? 's' : kind == 1 ? 'm' : kind == 2 ? 'r' : kind;
        memcpy(key + 1, data + pos, key_len);
        pos += key_len;
        size_t value_len = 0;
        if (size - pos >= 2) {
            value_len = ((size_t)data[pos] << 8) | data[pos + 1];
            pos += 2;
        }
        value_len = value_len < size - pos ? value_len : size - pos;
        const uint8_t *value = data + pos;
        pos += value_len;
        if (ne_store_kv_put(&wkv, key, key_len + 1, value, value_len) == NE_OK && key[0] == 's' &&
            session_count < MAX_SESSION_KEYS) {
            memcpy(session_ids[session_count], key + 1, key_len);
            session_id_len[session_count++] = key_len;
        }
    }
    fail_if(ne_store_kv_sync(&wkv) != NE_OK);
    fail_if(ne_store_kv_detach(&wkv) != NE_OK);
}

static bool boot(void)
{
    ne_net net;
    ne_sim_net_init(&sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.mqtt.enabled = true;
    opts.mqtt.port = 0;
    fail_if(ne_server_init(&srv, &opts, &net, NULL) != NE_OK);
    ne_server_set_flash(&srv, &fl.flash);
    if (ne_server_start(&srv) != NE_OK) {
        return false;
    }
    ne_server_loop(&srv, &loop);
    return true;
}

static void shutdown_idle(void)
{
    ne_server_shutdown(&srv);
    const char *busy = NULL;
    fail_if(ne_server_pools_in_use(&srv, &busy) != 0);
}

static void send_packet(const client *c, size_t n)
{
    fail_if(n == 0);
    (void)ne_sim_client_write(&sim, c->h, pkt, n);
}

/* Reads what the server sent c; every packet must decode. PUBLISH at QoS
 * 1 and 2 and PUBREL are answered as a client does. */
static void serve(client *c)
{
    if (c->h < 0) {
        return;
    }
    c->len += ne_sim_client_read(&sim, c->h, c->buf + c->len, sizeof(c->buf) - c->len);
    size_t pos = 0;
    for (int k = 0; k < PACKETS_PER_READ; k++) {
        uint8_t first;
        uint32_t rl, hl;
        if (ne_mqtt_fixed_header(c->buf + pos, c->len - pos, &first, &rl, &hl) != NE_OK ||
            hl + rl > c->len - pos) {
            break;
        }
        const uint8_t *body = c->buf + pos + hl;
        uint8_t reason = 0;
        uint8_t type = first >> 4;
        if (type == NE_MQTT_PUBLISH) {
            ne_mqtt_publish p;
            fail_if(ne_mqtt_decode_publish(first, body, rl, rl, c->version, false, &p, &reason) !=
                    NE_OK);
            fail_if(!ne_mqtt_topic_name_valid(p.topic.ptr, p.topic.len));
            if (p.qos > 0) {
                send_packet(c, ne_mqtt_encode_ack(pkt, sizeof(pkt), c->version,
                                                  p.qos == 1 ? NE_MQTT_PUBACK : NE_MQTT_PUBREC,
                                                  p.packet_id, 0, NULL));
            }
        } else if (type == NE_MQTT_PUBREL) {
            ne_mqtt_ack a;
            fail_if(ne_mqtt_decode_ack(body, rl, c->version, &a, &reason) != NE_OK);
            send_packet(c, ne_mqtt_encode_ack(pkt, sizeof(pkt), c->version, NE_MQTT_PUBCOMP,
                                              a.packet_id, 0, NULL));
        } else if (type == NE_MQTT_CONNACK) {
            ne_mqtt_connack a;
            fail_if(ne_mqtt_decode_connack(body, rl, c->version, &a, &reason) != NE_OK);
        }
        pos += hl + rl;
    }
    memmove(c->buf, c->buf + pos, c->len - pos);
    c->len -= pos;
}

static void turn(void)
{
    ne_sim_net_step(&sim, &loop);
    serve(&taker);
    serve(&watcher);
}

static int connect_client(client *c, uint8_t version, const uint8_t *id, size_t id_len, bool clean)
{
    c->version = version;
    c->len = 0;
    c->h = ne_sim_connect(&sim, ne_server_mqtt_port(&srv));
    fail_if(c->h < 0);
    ne_mqtt_props sei;
    memset(&sei, 0, sizeof(sei));
    sei.present = NE_MQTT_HAS(NE_MQTT_PROP_SESSION_EXPIRY);
    sei.session_expiry = 600;
    ne_mqtt_props_out none = {NULL, {NULL, 0}, NULL, 0};
    ne_mqtt_props_out keep = {&sei, {NULL, 0}, NULL, 0};
    ne_mqtt_connect_out co;
    memset(&co, 0, sizeof(co));
    co.level = version;
    co.clean_start = clean;
    co.keep_alive_s = 0;
    co.props = version == NE_MQTT_V5 && !clean ? &keep : &none;
    co.client_id = (ne_mqtt_bytes){id, (uint32_t)id_len};
    send_packet(c, ne_mqtt_encode_connect(pkt, sizeof(pkt), &co));
    return c->h;
}

static void watch_all(void)
{
    connect_client(&watcher, NE_MQTT_V5, (const uint8_t *)"watcher", 7, true);
    ne_mqtt_bytes f = {(const uint8_t *)"#", 1};
    ne_mqtt_sub_options o = {2, false, false, 0};
    send_packet(&watcher,
                ne_mqtt_encode_subscribe(pkt, sizeof(pkt), NE_MQTT_V5, 1, NULL, &f, &o, 1));
}

static void run(uint8_t options, uint8_t clock)
{
    taker.h = -1;
    watcher.h = -1;
    if ((options & 0x20) != 0) {
        watch_all();
    }
    turn();
    if ((options & 0x02) != 0 && session_count > 0) {
        uint32_t which = ((options >> 2) & 7u) % session_count;
        uint8_t version = (options & 1) != 0 ? NE_MQTT_V5 : NE_MQTT_V311;
        connect_client(&taker, version, session_ids[which], session_id_len[which], false);
    }
    turn();
    turn();
    uint64_t tick_ms = 100ull << (clock & 31u);
    for (uint32_t t = 0; t <= (uint32_t)(clock >> 5); t++) {
        ne_sim_clock_advance(tick_ms);
        turn();
        turn();
    }
    if (taker.h >= 0) {
        if ((options & 0x40) != 0) {
            send_packet(&taker,
                        ne_mqtt_encode_disconnect(pkt, sizeof(pkt), taker.version, 0, NULL));
            turn();
        }
        ne_sim_client_close(&sim, taker.h);
        taker.h = -1;
        turn();
    }
    ne_sim_clock_advance(tick_ms);
    turn();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    uint8_t options = data[0];
    uint8_t clock = data[1];
    write_records(data + 2, size - 2);
    if (!boot()) {
        shutdown_idle();
        return 0;
    }
    const ne_mqtt_persist_stats *st = &srv.mqtt.persist.stats;
    fail_if(st->sessions_loaded + st->messages_loaded + st->retained_loaded > MAX_RECORDS);
    /* The next message id and transaction are new ones: no count wraps to
     * numbers the records use. */
    fail_if(srv.mqtt.store.next_id == 0 || srv.mqtt.persist.last_txn == UINT64_MAX);
    run(options, clock);
    shutdown_idle();
    if ((options & 0x80) == 0) {
        return 0;
    }
    /* What the first start kept, cleaned and wrote again loads whole. */
    fail_if(!boot());
    fail_if(st->dropped_at_load != 0 || st->rolled_back != 0);
    run(options, clock);
    shutdown_idle();
    return 0;
}
