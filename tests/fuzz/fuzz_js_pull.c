/* libFuzzer harness for JetStream's pull requests (src/js): a stream with
 * pull consumers of small max_waiting, max_batch, max_expires and
 * max_bytes, with and without acks. The input is a program: publishes of
 * payloads from empty to several KiB, pull requests whose bodies are raw
 * input bytes, a bare number, or JSON built from batch, expires, max_bytes,
 * no_wait and idle_heartbeat with values near every edge, on reply
 * subjects short, near NE_JS_REPLY_BYTES or absent; acks with +NXT; clients
 * leaving with requests waiting; consumers deleted with requests waiting
 * and made again; time passing through expiries and heartbeats. The
 * invariants of js_harness.h hold after each step; at the end every pool
 * is idle. */
#include "js_harness.h"

static const char *const creates[][2] = {
    {"$JS.API.CONSUMER.CREATE.Q.W",
     "{\"stream_name\":\"Q\",\"config\":{\"durable_name\":\"W\",\"ack_policy\":\"explicit\","
     "\"max_waiting\":3,\"max_batch\":4,\"max_expires\":3000000000,\"max_bytes\":3000,"
     "\"ack_wait\":1000000000}}"},
    {"$JS.API.CONSUMER.CREATE.Q.N",
     "{\"stream_name\":\"Q\",\"config\":{\"durable_name\":\"N\",\"ack_policy\":\"none\","
     "\"filter_subject\":\"Q.1\"}}"},
    {"$JS.API.CONSUMER.CREATE.Q.M",
     "{\"stream_name\":\"Q\",\"config\":{\"durable_name\":\"M\",\"ack_policy\":\"explicit\","
     "\"max_ack_pending\":2,\"deliver_policy\":\"last_per_subject\",\"filter_subject\":\"Q.*\"}}"},
};
static const char *const names[] = {"W", "N", "M"};

static const char *const numbers[] = {"0",
                                      "1",
                                      "2",
                                      "5",
                                      "-1",
                                      "100",
                                      "1000",
                                      "100000000",
                                      "500000000",
                                      "1000000000",
                                      "2000000000",
                                      "5000000000",
                                      "-5000000000",
                                      "9223372036854775807",
                                      "9223372036854775808",
                                      "1.5",
                                      "\"1\"",
                                      "null",
                                      "true",
                                      "[]"};

static char body[NE_JS_API_REQUEST_BYTES + 256];
static char payload[8192];

static size_t pull_body(js_program *p)
{
    uint8_t how = js_next(p);
    switch (how % 6) {
    case 0: { /* raw */
        size_t len = js_next(p);
        for (size_t i = 0; i < len; i++) {
            body[i] = (char)js_next(p);
        }
        return len;
    }
    case 1: /* a bare number, or nothing */
        return (size_t)snprintf(body, sizeof(body), "%s", how & 8 ? numbers[js_pick(p, 8)] : "");
    case 2: { /* past NE_JS_API_REQUEST_BYTES */
        size_t len = NE_JS_API_REQUEST_BYTES - 2 + js_pick(p, 6);
        int n = snprintf(body, sizeof(body), "{\"batch\":1");
        memset(body + n, ' ', len - (size_t)n - 1);
        body[len - 1] = '}';
        return len;
    }
    default: { /* JSON */
        static const char *const keys[] = {"batch", "expires", "max_bytes", "no_wait",
                                           "idle_heartbeat"};
        size_t n = (size_t)snprintf(body, sizeof(body), "{");
        uint32_t count = 1 + js_pick(p, 5);
        for (uint32_t i = 0; i < count; i++) {
            uint8_t k = js_next(p);
            const char *value = (k & 0x80) != 0 ? (k & 1 ? "true" : "false")
                                                : numbers[js_pick(p, NE_ARRAY_LEN(numbers))];
            n += (size_t)snprintf(body + n, sizeof(body) - n, "%s\"%s\":%s", i > 0 ? "," : "",
                                  keys[k % NE_ARRAY_LEN(keys)], value);
        }
        n += (size_t)snprintf(body + n, sizeof(body) - n, "}");
        return n;
    }
    }
}

/* A reply subject: short, near NE_JS_REPLY_BYTES (in tokens the
 * subscription in.> takes), or none. */
static void reply_subject(js_program *p, char *out, size_t cap)
{
    uint8_t how = js_next(p);
    if ((how & 7) == 0) {
        out[0] = '\0';
        return;
    }
    if ((how & 7) != 1) {
        snprintf(out, cap, "in.%u", (unsigned)js_pick(p, 16));
        return;
    }
    size_t len = NE_JS_REPLY_BYTES - 2 + js_pick(p, 4);
    size_t n = (size_t)snprintf(out, cap, "in");
    while (n + 1 < len && n + 12 < cap) {
        n += (size_t)snprintf(out + n, cap - n, ".%s", "abcdefghij");
    }
    out[len < cap ? len : cap - 1] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    js_start();
    js_program p = {data, size, 0};
    js_request(0, "$JS.API.STREAM.CREATE.Q",
               "{\"name\":\"Q\",\"subjects\":[\"Q.*\"],\"storage\":\"memory\",\"max_msgs\":200}");
    for (size_t i = 0; i < NE_ARRAY_LEN(creates); i++) {
        js_request(0, creates[i][0], creates[i][1]);
    }
    memset(payload, 'p', sizeof(payload));
    for (int i = 0; i < JS_MAX_OPS && p.pos < p.size; i++) {
        uint8_t op = js_next(&p);
        int c = op & 1;
        switch ((op >> 1) % 10) {
        case 0:
        case 1: {
            char subject[16];
            snprintf(subject, sizeof(subject), "Q.%u", js_pick(&p, 3));
            size_t len = (js_next16(&p) * 7u) % sizeof(payload);
            js_pub(c, subject, "", payload, (js_next(&p) & 3) == 0 ? len : len % 64);
            break;
        }
        case 2:
        case 3:
        case 4: {
            char subject[64], reply[NE_JS_REPLY_BYTES + 16];
            snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.MSG.NEXT.Q.%s",
                     names[js_pick(&p, 3)]);
            reply_subject(&p, reply, sizeof(reply));
            size_t len = pull_body(&p);
            js_pub(c, subject, reply, body, len);
            break;
        }
        case 5: { /* +NXT on a delivery */
            const char *kept = js_kept(&p);
            if (kept != NULL) {
                char reply[32];
                snprintf(reply, sizeof(reply), "in.n%u", (unsigned)js_pick(&p, 4));
                size_t len = pull_body(&p);
                char ack[NE_JS_API_REQUEST_BYTES + 300];
                int n = snprintf(ack, sizeof(ack), "+NXT %.*s", (int)len, body);
                js_pub(c, kept, reply, ack, n > 0 ? (size_t)n : 0);
            }
            break;
        }
        case 6: { /* a client leaves with its requests waiting, and comes back */
            ne_sim_client_close(&sim, js_client[c]);
            js_step(2);
            ne_sim_release(&sim, js_client[c]);
            js_connect(c);
            break;
        }
        case 7: { /* a consumer deleted with requests waiting, made again */
            uint32_t k = js_pick(&p, 3);
            char subject[64];
            snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.DELETE.Q.%s", names[k]);
            js_request(c, subject, "");
            js_request(c, creates[k][0], creates[k][1]);
            break;
        }
        default:
            js_advance(js_next16(&p) % 4000);
            break;
        }
        js_step(1);
        js_check();
    }
    js_finish();
    return 0;
}
