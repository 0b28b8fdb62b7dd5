/* libFuzzer harness for JetStream's acknowledgements (src/js): a stream
 * (limits, interest or workqueue retention, chosen by the input) with two
 * pull consumers (explicit acks with ack_wait, max_deliver and backoff;
 * ack all) and a push consumer with flow control and heartbeats. The input
 * is a program: publishes, fetches, acks of what was delivered with every
 * body (+ACK, +OK, empty, -NAK with a delay as JSON or duration or garbage,
 * +WPI, +NXT with a request, +TERM with a reason, raw bytes, bodies past
 * NE_JS_API_REQUEST_BYTES) on kept or altered ack subjects (counts and
 * sequences changed, another consumer), flow control replies, interest on
 * the deliver subject coming and going, consumers deleted and made again,
 * and time passing. The invariants of js_harness.h hold after each step;
 * at the end every pool is idle. */
#include "js_harness.h"

static const char *const retentions[] = {"limits", "interest", "workqueue"};

static void make_consumers(int c, uint32_t which)
{
    static const char *const configs[] = {
        "$JS.API.CONSUMER.CREATE.A.P",
        "{\"stream_name\":\"A\",\"config\":{\"durable_name\":\"P\",\"ack_policy\":\"explicit\","
        "\"filter_subject\":\"A.0\",\"ack_wait\":1000000000,\"max_deliver\":4,"
        "\"backoff\":[1000000000,2000000000],\"max_ack_pending\":20}}",
        "$JS.API.CONSUMER.CREATE.A.L",
        "{\"stream_name\":\"A\",\"config\":{\"durable_name\":\"L\",\"ack_policy\":\"all\","
        "\"filter_subject\":\"A.1\",\"ack_wait\":2000000000}}",
        "$JS.API.CONSUMER.CREATE.A.H",
        "{\"stream_name\":\"A\",\"config\":{\"durable_name\":\"H\",\"ack_policy\":\"explicit\","
        "\"filter_subject\":\"A.2\",\"deliver_subject\":\"dl.h\",\"flow_control\":true,"
        "\"idle_heartbeat\":1000000000,\"ack_wait\":1500000000}}",
    };
    for (uint32_t i = 0; i < 3; i++) {
        if (which == 3 || which == i) {
            js_request(c, configs[2 * i], configs[2 * i + 1]);
        }
    }
}

static char body[NE_JS_API_REQUEST_BYTES + 256];

static size_t ack_body(js_program *p)
{
    static const char *const verbs[] = {"+ACK",
                                        "+OK",
                                        "",
                                        "-NAK",
                                        "-NAK {\"delay\":%u000000}",
                                        "-NAK %ums",
                                        "-NAK {\"delay\":",
                                        "-NAK -5s",
                                        "+WPI",
                                        "+NXT",
                                        "+NXT %u",
                                        "+NXT {\"batch\":%u,\"no_wait\":true}",
                                        "+NXT {\"batch\":%u,\"expires\":500000000}",
                                        "+TERM",
                                        "+TERM reason %u",
                                        "+ACK ",
                                        " +ACK",
                                        "+ACKX",
                                        "+NAK",
                                        "-NAKED",
                                        "+TERMINATE"};
    uint8_t b = js_next(p);
    if (b == 0xff) {
        /* Past NE_JS_API_REQUEST_BYTES: a verb then padding. */
        const char *v = verbs[js_pick(p, 4)];
        size_t n = strlen(v);
        memcpy(body, v, n);
        size_t len = NE_JS_API_REQUEST_BYTES - 2 + js_pick(p, 8);
        memset(body + n, ' ', len - n);
        return len;
    }
    if (b == 0xfe) {
        size_t len = js_next(p);
        for (size_t i = 0; i < len; i++) {
            body[i] = (char)js_next(p);
        }
        return len;
    }
    int n = snprintf(body, sizeof(body), verbs[b % NE_ARRAY_LEN(verbs)], (unsigned)js_next(p));
    return n > 0 ? (size_t)n : 0;
}

/* A kept ack subject, sometimes with one of its numbers or names changed. */
static void ack_subject(js_program *p, char *out, size_t cap)
{
    const char *kept = js_kept(p);
    snprintf(out, cap, "%s", kept != NULL ? kept : "$JS.ACK.A.P.1.1.1.0.0");
    uint8_t how = js_next(p);
    if ((how & 3) != 0) {
        return;
    }
    /* Replace token (how >> 2) % 9 with another value. */
    static const char *const others[] = {
        "0", "1", "2", "99", "18446744073709551615", "18446744073709551616", "x",
        "P", "L", "H", "B"};
    char copy[JS_ACK_BYTES];
    snprintf(copy, sizeof(copy), "%s", out);
    uint32_t target = (uint32_t)(how >> 2) % 9, tok = 0;
    size_t n = 0;
    const char *t = copy;
    while (*t != '\0' && n + 24 < cap) {
        size_t len = strcspn(t, ".");
        const char *text = tok == target ? others[js_pick(p, NE_ARRAY_LEN(others))] : NULL;
        n += (size_t)snprintf(out + n, cap - n, "%s%.*s", tok > 0 ? "." : "",
                              text != NULL ? (int)strlen(text) : (int)len, text != NULL ? text : t);
        t += len;
        if (*t == '.') {
            t++;
        }
        tok++;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    js_start();
    js_program p = {data, size, 0};
    char cfg[256];
    snprintf(cfg, sizeof(cfg),
             "{\"name\":\"A\",\"subjects\":[\"A.*\"],\"storage\":\"memory\",\"retention\":\"%s\","
             "\"max_msgs_per_subject\":%d}",
             retentions[js_pick(&p, 3)], js_next(&p) & 1 ? 3 : -1);
    js_request(0, "$JS.API.STREAM.CREATE.A", cfg);
    make_consumers(0, 3);
    for (int i = 0; i < JS_MAX_OPS && p.pos < p.size; i++) {
        uint8_t op = js_next(&p);
        int c = op & 1;
        switch ((op >> 1) % 10) {
        case 0:
        case 1: {
            char subject[16];
            snprintf(subject, sizeof(subject), "A.%u", js_pick(&p, 4));
            js_pub(c, subject, js_next(&p) & 1 ? "in.p" : "", "data", 4);
            break;
        }
        case 2: {
            char request[64];
            snprintf(request, sizeof(request), "{\"batch\":%u,\"no_wait\":true}",
                     1 + js_pick(&p, 6));
            js_pub(c,
                   js_next(&p) & 1 ? "$JS.API.CONSUMER.MSG.NEXT.A.P"
                                   : "$JS.API.CONSUMER.MSG.NEXT.A.L",
                   "in.f", request, strlen(request));
            break;
        }
        case 3:
        case 4:
        case 5: {
            char subject[JS_ACK_BYTES + 32];
            ack_subject(&p, subject, sizeof(subject));
            size_t len = ack_body(&p);
            if (getenv("JS_FUZZ_TRACE") != NULL) {
                fprintf(stderr, "ack %s: %.*s\n", subject, (int)(len < 60 ? len : 60), body);
            }
            js_pub(c, subject, js_next(&p) & 1 ? "in.a" : "", body, len);
            break;
        }
        case 6:
            /* The push consumer's interest: a literal subscription. */
            js_send_text(c, js_next(&p) & 1 ? "UNSUB 3\r\n" : "SUB dl.h 3\r\n");
            break;
        case 7: {
            static const char *const names[] = {"P", "L", "H"};
            uint32_t k = js_pick(&p, 3);
            char subject[64];
            snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.DELETE.A.%s", names[k]);
            js_request(c, subject, "");
            make_consumers(c, k);
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
