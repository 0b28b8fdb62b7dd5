/* Power-loss test of JetStream's file storage (make powercut-js CUTS=<n>
 * SEED=<s>): the whole broker on port/sim, its file device a simulated
 * flash behind a write cache (a file under a page cache: any subset of the
 * lines written since the last sync survives a cut, one possibly torn, and
 * a cut may fall during a sync).
 *
 * One client drives, over the NATS protocol, a file stream S (publishes
 * with Nats-Msg-Id, max_msgs with discard old), a KV bucket's stream (puts
 * on 16 keys, one message per key) and a durable pull consumer C of S
 * (one message at a time, double-acked), and creates and deletes a stream
 * T again and again (catalogue changes). At each cut point power fails
 * during a random flash operation a few ahead; the broker is then started
 * again from the flash alone (its RAM thrown away, as a power cut does) and
 * checked against what the client was told:
 *
 *   - every publish whose PubAck arrived is in S at the sequence it gave,
 *     byte-exact (within the newest max_msgs), and every KV put that was
 *     acknowledged is its key's value unless a later put replaced it;
 *   - every message of S and of the bucket reads back whole (nothing
 *     corrupt is served);
 *   - a publish retried with the Nats-Msg-Id of one that was in flight is
 *     stored at most once;
 *   - C's ack floor is at least the last sequence up to which every double
 *     ack was confirmed, and no message whose ack was confirmed is pending
 *     or delivered again.
 *   - T exists exactly when the last acknowledged create or delete of it
 *     said so.
 *
 * The last line is
 *   cut points: <n>, acknowledged records lost: <k>, corrupt records returned: <c>
 * and the exit status is non-zero when k, c or another check failed. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ne_error.h"
#include "js/ne_js_int.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_flash.h"
#include "sim/ne_sim_net.h"

#define PROGRAM_BYTES 64u
#define ERASE_BYTES (64u * 1024u)
#define BLOCKS 48u
#define IMAGE_BYTES ((size_t)ERASE_BYTES * BLOCKS)
#define LINE_BYTES 512u
#define MAX_MSGS 300
#define KEYS 16
#define MAX_PUBS 200000

static ne_server srv;
static ne_sim_net net_sim;
static ne_sim_flash flash;
static uint8_t image[IMAGE_BYTES];
static uint8_t durable[IMAGE_BYTES];
static uint8_t dirty[NE_SIM_FLASH_DIRTY_BYTES(BLOCKS, ERASE_BYTES, LINE_BYTES)];
static uint32_t erase_counts[BLOCKS];
static bool formatted;
static char rx[NE_SIM_BUFFER_BYTES + 1];
static int client = -1;
static int reply_n;
static uint64_t rng_state;

/* The model: what the client was told. */
static uint64_t pub_seq[MAX_PUBS]; /* publish id -> its acknowledged seq, 0: none */
static uint32_t next_pub = 1;
static uint32_t inflight; /* a publish sent and not answered, 0: none */
static uint64_t kv_seq[KEYS];
static uint32_t kv_val[KEYS];
static uint32_t next_val = 1;
static uint8_t confirmed[2 * MAX_PUBS]; /* stream seq -> 1 once its double ack was confirmed */
static uint64_t lost, corrupt, failures, cuts;
/* Stream T, created and deleted again and again (catalogue changes): what
 * the last acknowledged request made of it, unless one was cut short. */
static bool t_exists;
static bool t_unknown;
static bool verbose;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static void fail(const char *what, unsigned long long a, unsigned long long b)
{
    failures++;
    fprintf(stderr, "cut %llu: %s (%llu, %llu)\n", (unsigned long long)cuts, what, a, b);
}

/* ---- The device port -------------------------------------------------------------------- */

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

/* ---- The client ------------------------------------------------------------------------- */

static void step(int n)
{
    ne_loop loop;
    ne_server_loop(&srv, &loop);
    for (int i = 0; i < n; i++) {
        ne_sim_net_step(&net_sim, &loop);
    }
}

static const char *take(void)
{
    size_t n = ne_sim_client_read(&net_sim, client, rx, sizeof(rx) - 1);
    rx[n] = '\0';
    return rx;
}

static void send_bytes(const void *p, size_t len)
{
    if (ne_sim_client_write(&net_sim, client, p, len) != len) {
        fail("client write refused", len, 0);
    }
}

static void send_text(const char *t)
{
    send_bytes(t, strlen(t));
}

/* A request (headers may be NULL) answered on a fresh inbox: the reply. */
static const char *request(const char *subject, const char *hdr, const char *body)
{
    char line[256];
    char reply[32];
    snprintf(reply, sizeof(reply), "in.%d", ++reply_n);
    if (hdr != NULL) {
        snprintf(line, sizeof(line), "HPUB %s %s %zu %zu\r\n", subject, reply, strlen(hdr),
                 strlen(hdr) + strlen(body));
    } else {
        snprintf(line, sizeof(line), "PUB %s %s %zu\r\n", subject, reply, strlen(body));
    }
    send_text(line);
    if (hdr != NULL) {
        send_text(hdr);
    }
    send_text(body);
    send_text("\r\n");
    step(4);
    return take();
}

static uint64_t ack_seq(const char *got)
{
    if (strstr(got, "\"error\"") != NULL) {
        return 0;
    }
    const char *s = strstr(got, "\"seq\":");
    return s != NULL ? strtoull(s + 6, NULL, 10) : 0;
}

static bool is_duplicate(const char *got)
{
    return strstr(got, "\"duplicate\": true") != NULL;
}

/* The payload of publish id: its length and bytes follow from the id. */
static size_t payload_of(uint32_t id, char *buf, size_t cap)
{
    size_t len = 16 + (id * 2654435761u) % 1500u;
    if (len >= cap) {
        len = cap - 1;
    }
    int n = snprintf(buf, cap, "p%u:", id);
    for (size_t i = (size_t)n; i < len; i++) {
        buf[i] = (char)('a' + (id + i) % 26);
    }
    buf[len] = '\0';
    return len;
}

static void connect_client(void)
{
    client = ne_sim_connect(&net_sim, ne_server_client_port(&srv));
    step(2);
    take();
    send_text("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
              "\"no_responders\":true,\"protocol\":1}\r\nSUB in.> 1\r\nPING\r\n");
    step(2);
    if (strstr(take(), "PONG") == NULL) {
        fail("no PONG", 0, 0);
    }
}

static void boot(void)
{
    ne_net net;
    ne_sim_net_init(&net_sim, &net);
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.js.enabled = true;
    snprintf(opts.js.store_dir, sizeof(opts.js.store_dir), "sim");
    if (ne_server_init(&srv, &opts, &net, NULL) != NE_OK) {
        fprintf(stderr, "server init failed\n");
        exit(2);
    }
    ne_js_device_port port = {sim_open, sim_close, NULL};
    ne_js_set_device(&srv.js, &port);
    if (ne_server_start(&srv) != NE_OK) {
        fprintf(stderr, "server start failed\n");
        exit(2);
    }
    connect_client();
}

/* ---- The workload ----------------------------------------------------------------------- */

static void publish(uint32_t id)
{
    char hdr[64];
    char body[1600];
    snprintf(hdr, sizeof(hdr), "NATS/1.0\r\nNats-Msg-Id: m%u\r\n\r\n", id);
    payload_of(id, body, sizeof(body));
    char subject[32];
    snprintf(subject, sizeof(subject), "s.%u", id % 7);
    inflight = id;
    const char *got = request(subject, hdr, body);
    uint64_t seq = ack_seq(got);
    if (seq != 0) {
        pub_seq[id] = seq;
        inflight = 0;
    } else if (strstr(got, "\"error\"") != NULL) {
        inflight = 0; /* refused: not stored */
    }
}

static void kv_put(uint32_t key)
{
    char subject[32];
    char body[32];
    snprintf(subject, sizeof(subject), "$KV.b.k%u", key);
    uint32_t v = next_val++;
    snprintf(body, sizeof(body), "v%u", v);
    uint64_t seq = ack_seq(request(subject, NULL, body));
    if (seq != 0) {
        kv_seq[key] = seq;
        kv_val[key] = v;
    }
}

static void mark_confirmed(uint64_t seq)
{
    if (seq < sizeof(confirmed)) {
        confirmed[seq] = 1;
    }
}

static bool is_confirmed(uint64_t seq)
{
    return seq < sizeof(confirmed) && confirmed[seq];
}

/* One message from C, double-acked. */
static void consume(void)
{
    const char *got =
        request("$JS.API.CONSUMER.MSG.NEXT.S.C", NULL, "{\"batch\":1,\"no_wait\":true}");
    const char *ack = strstr(got, "$JS.ACK.S.C.");
    if (ack == NULL) {
        return;
    }
    char subject[160];
    size_t n = 0;
    while (ack[n] != ' ' && ack[n] != '\r' && ack[n] != '\0' && n + 1 < sizeof(subject)) {
        subject[n] = ack[n];
        n++;
    }
    subject[n] = '\0';
    unsigned long long dc = 0, sseq = 0;
    if (sscanf(subject, "$JS.ACK.S.C.%llu.%llu.", &dc, &sseq) != 2) {
        fail("bad ack subject", 0, 0);
        return;
    }
    if (is_confirmed(sseq)) {
        fail("a message whose ack was confirmed delivered again", sseq, dc);
    }
    char reply[32];
    snprintf(reply, sizeof(reply), "in.%d", ++reply_n);
    char line[224];
    snprintf(line, sizeof(line), "PUB %s %s 4\r\n+ACK\r\n", subject, reply);
    send_text(line);
    step(4);
    char expect[48];
    snprintf(expect, sizeof(expect), "MSG %s 1 0\r\n", reply);
    if (strstr(take(), expect) != NULL) {
        mark_confirmed(sseq);
    }
}

/* Creates T when it is not there, deletes it when it is. */
static void toggle_t(void)
{
    const char *got = t_exists
                          ? request("$JS.API.STREAM.DELETE.T", NULL, "")
                          : request("$JS.API.STREAM.CREATE.T", NULL,
                                    "{\"name\":\"T\",\"subjects\":[\"t.>\"],\"storage\":\"file\"}");
    if (!flash.powered) {
        /* The power failed during the request: a broker would not have
         * answered (this one goes on until the step ends). */
        t_unknown = true;
        return;
    }
    if (strstr(got, "\"error\"") != NULL) {
        return;
    }
    if (strstr(got, "\"type\"") == NULL) {
        t_unknown = true; /* no answer: either */
        return;
    }
    t_exists = !t_exists;
}

static void setup_streams(void)
{
    const char *r = request("$JS.API.STREAM.CREATE.S", NULL,
                            "{\"name\":\"S\",\"subjects\":[\"s.>\"],\"storage\":\"file\","
                            "\"max_msgs\":300,\"duplicate_window\":3600000000000}");
    if (strstr(r, "\"error\"") != NULL) {
        fprintf(stderr, "stream S: %s\n", r);
        exit(2);
    }
    r = request("$JS.API.STREAM.CREATE.KV_b", NULL,
                "{\"name\":\"KV_b\",\"subjects\":[\"$KV.b.>\"],\"storage\":\"file\","
                "\"max_msgs_per_subject\":1,\"allow_rollup_hdrs\":true,\"allow_direct\":true}");
    if (strstr(r, "\"error\"") != NULL) {
        fprintf(stderr, "stream KV_b: %s\n", r);
        exit(2);
    }
    r = request("$JS.API.CONSUMER.DURABLE.CREATE.S.C", NULL,
                "{\"stream_name\":\"S\",\"config\":{\"durable_name\":\"C\",\"ack_policy\":"
                "\"explicit\",\"max_ack_pending\":100}}");
    if (strstr(r, "\"error\"") != NULL) {
        fprintf(stderr, "consumer C: %s\n", r);
        exit(2);
    }
}

/* ---- The checks after a restart -------------------------------------------------------- */

static ne_js_stream *stream_named(const char *name)
{
    return ne_js_stream_find(&srv.js.accounts[0], (ne_slice){name, (uint32_t)strlen(name)});
}

static uint8_t body_buf[4096];

/* Reads message seq whole; false (counted as corrupt) when it does not read back. */
static bool read_whole(ne_js_stream *st, uint64_t seq, ne_js_msg_info *info, char *subject,
                       size_t cap)
{
    memset(info, 0, sizeof(*info));
    info->subject = subject;
    info->subject_cap = (uint32_t)cap;
    int rc = st->store.ops->info(&st->store, seq, info);
    if (rc == NE_ERR_NOT_FOUND) {
        return false;
    }
    uint32_t len = info->hdr_len + info->data_len;
    if (rc != NE_OK || len > sizeof(body_buf) ||
        st->store.ops->read(&st->store, seq, 0, body_buf, len) != NE_OK) {
        corrupt++;
        fail("a message does not read back", seq, (unsigned long long)rc);
        return false;
    }
    return true;
}

static void check(void)
{
    ne_js_stream *s = stream_named("S");
    ne_js_stream *kv = stream_named("KV_b");
    if (s == NULL || kv == NULL) {
        lost++;
        fail("a stream is gone", s == NULL, kv == NULL);
        return;
    }
    char subject[64];
    ne_js_msg_info info;
    /* Every message reads back whole. */
    for (uint64_t seq = s->store.state.first_seq; seq <= s->store.state.last_seq && seq != 0;
         seq++) {
        (void)read_whole(s, seq, &info, subject, sizeof(subject));
    }
    /* Acknowledged publishes within the newest max_msgs are there, exact. */
    uint64_t last = s->store.state.last_seq;
    for (uint32_t id = 1; id < next_pub; id++) {
        uint64_t seq = pub_seq[id];
        if (seq == 0 || seq + MAX_MSGS <= last) {
            continue;
        }
        if (seq > last || !read_whole(s, seq, &info, subject, sizeof(subject))) {
            lost++;
            fail("an acknowledged publish is gone", id, seq);
            continue;
        }
        char want[1600];
        size_t len = payload_of(id, want, sizeof(want));
        if (info.data_len != len || memcmp(body_buf + info.hdr_len, want, len) != 0) {
            corrupt++;
            fail("an acknowledged publish came back altered", id, seq);
        }
    }
    /* KV: each key's acknowledged value, unless a later put replaced it. */
    for (uint32_t k = 0; k < KEYS; k++) {
        if (kv_seq[k] == 0) {
            continue;
        }
        char key[32];
        int n = snprintf(key, sizeof(key), "$KV.b.k%u", k);
        ne_js_subject_state ss;
        if (kv->store.ops->subject_state(&kv->store, (ne_slice){key, (uint32_t)n}, &ss) != NE_OK ||
            ss.last_seq < kv_seq[k]) {
            lost++;
            fail("an acknowledged KV put is gone", k, kv_seq[k]);
            continue;
        }
        if (ss.last_seq == kv_seq[k] &&
            read_whole(kv, ss.last_seq, &info, subject, sizeof(subject))) {
            char want[32];
            int w = snprintf(want, sizeof(want), "v%u", kv_val[k]);
            if (info.data_len != (uint32_t)w ||
                memcmp(body_buf + info.hdr_len, want, (size_t)w) != 0) {
                corrupt++;
                fail("an acknowledged KV value came back altered", k, kv_seq[k]);
            }
        }
    }
    /* T is as the last acknowledged request left it. */
    bool t_now = stream_named("T") != NULL;
    if (!t_unknown && t_now != t_exists) {
        lost++;
        fail("stream T is not as its last acknowledged create or delete left it", t_now, t_exists);
    }
    t_exists = t_now;
    t_unknown = false;
    /* The consumer resumes from its ack floor; nothing confirmed is pending. */
    ne_js_consumer *c = ne_js_consumer_find(s, (ne_slice){"C", 1});
    if (c == NULL) {
        lost++;
        fail("the durable consumer is gone", 0, 0);
        return;
    }
    uint64_t floor = 0;
    while (is_confirmed(floor + 1)) {
        floor++;
    }
    if (c->asflr < floor) {
        lost++;
        fail("the ack floor went back below confirmed acks", c->asflr, floor);
    }
    uint32_t i = c->pending_head;
    for (uint32_t guard = 0; i != NE_JS_NONE && guard < NE_JS_MAX_PENDING; guard++) {
        const ne_js_pending *p =
            (const ne_js_pending *)(const void *)(srv.js.pending_pool.storage +
                                                  (size_t)i * srv.js.pending_pool.object_bytes);
        if (is_confirmed(p->sseq)) {
            lost++;
            fail("a confirmed ack is pending again", p->sseq, 0);
        }
        i = p->next;
    }
    /* A publish in flight at the cut, retried: stored at most once. */
    if (inflight != 0) {
        uint32_t id = inflight;
        char hdr[64];
        char body[1600];
        snprintf(hdr, sizeof(hdr), "NATS/1.0\r\nNats-Msg-Id: m%u\r\n\r\n", id);
        payload_of(id, body, sizeof(body));
        char subj[32];
        snprintf(subj, sizeof(subj), "s.%u", id % 7);
        uint64_t before = s->store.state.last_seq;
        const char *got = request(subj, hdr, body);
        uint64_t seq = ack_seq(got);
        if (seq != 0) {
            pub_seq[id] = seq;
            if (!is_duplicate(got) && seq <= before) {
                fail("a retried publish got an old sequence without being a duplicate", id, seq);
            }
        }
        inflight = 0;
    }
}

int main(int argc, char **argv)
{
    uint64_t cut_points = 100;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cuts") == 0 && i + 1 < argc) {
            cut_points = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[++i], NULL, 10);
        } else if (strcmp(argv[i], "--verbose") == 0) {
            verbose = true;
        } else {
            fprintf(stderr, "usage: %s [--cuts N] [--seed S] [--verbose]\n", argv[0]);
            return 2;
        }
    }
    rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    ne_flash_geometry g = {PROGRAM_BYTES, ERASE_BYTES, BLOCKS};
    ne_sim_flash_init(&flash, g, image, erase_counts, NULL, seed);
    ne_sim_flash_use_cache(&flash, durable, dirty, LINE_BYTES, 64, 20);
    boot();
    setup_streams();
    for (cuts = 0; cuts < cut_points && next_pub < MAX_PUBS - 1000; cuts++) {
        ne_sim_flash_cut_after(&flash, 1 + rnd() % 300);
        for (uint32_t op = 0; op < 400 && flash.powered; op++) {
            uint64_t r = rnd() % 20;
            if (r < 10) {
                publish(next_pub++);
            } else if (r < 14) {
                kv_put((uint32_t)(rnd() % KEYS));
            } else if (r < 19) {
                consume();
            } else {
                toggle_t();
            }
        }
        /* The power is cut (or the round ran out): RAM is gone. */
        ne_sim_flash_power_on(&flash);
        boot();
        check();
        /* Pending deliveries fall due (ack_wait, 30 s): redelivered next. */
        for (int t = 0; t < 310; t++) {
            ne_sim_clock_advance(100);
            step(1);
        }
        if (verbose) {
            fprintf(stderr, "cut %llu: S last %llu, C floor %llu\n", (unsigned long long)cuts,
                    (unsigned long long)(stream_named("S") ? stream_named("S")->store.state.last_seq
                                                           : 0),
                    0ull);
        }
    }
    uint64_t acked = 0, acks = 0;
    for (uint32_t id = 1; id < next_pub; id++) {
        acked += pub_seq[id] != 0;
    }
    for (size_t q = 0; q < sizeof(confirmed); q++) {
        acks += confirmed[q];
    }
    printf("publishes acknowledged: %llu of %u, double acks confirmed: %llu, KV puts: %u\n",
           (unsigned long long)acked, next_pub - 1, (unsigned long long)acks, next_val - 1);
    printf("cut points: %llu, acknowledged records lost: %llu, corrupt records returned: %llu\n",
           (unsigned long long)cuts, (unsigned long long)lost, (unsigned long long)corrupt);
    return lost == 0 && corrupt == 0 && failures == 0 ? 0 : 1;
}
