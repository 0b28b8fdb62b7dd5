/* libFuzzer harness for JetStream's API JSON (src/js): the input is a
 * program of $JS.API requests on every endpoint, their bodies either raw
 * bytes from the input or a stream or consumer configuration, a purge, a
 * message request or a names request built from keys nats-server knows
 * with values near every edge (negative, zero, beyond int64, wrong types,
 * null, nested, text near NE_JS_TEXT_BYTES and NE_JS_NAME_BYTES), mixed
 * with publishes (with Nats-Msg-Id, Nats-Expected-* and Nats-Rollup headers),
 * acks of what was delivered and time passing. The server must never crash
 * (ASan, UBSan); after every operation the invariants of js_harness.h hold;
 * at the end every stream is deleted and every pool is idle. */
#include "js_harness.h"

static const char *const streams[] = {"S", "T", "KV_b", "OBJ_o"};
static const char *const consumers[] = {"C", "D", "E"};

static const char *const stream_keys[] = {"name",
                                          "subjects",
                                          "retention",
                                          "max_consumers",
                                          "max_msgs",
                                          "max_bytes",
                                          "max_age",
                                          "max_msgs_per_subject",
                                          "max_msg_size",
                                          "discard",
                                          "storage",
                                          "num_replicas",
                                          "duplicate_window",
                                          "allow_direct",
                                          "mirror_direct",
                                          "sealed",
                                          "deny_delete",
                                          "deny_purge",
                                          "allow_rollup_hdrs",
                                          "republish",
                                          "description",
                                          "no_ack",
                                          "placement",
                                          "sources",
                                          "mirror",
                                          "discard_new_per_subject",
                                          "template_owner",
                                          "metadata",
                                          "compression",
                                          "first_seq"};

static const char *const consumer_keys[] = {"durable_name",       "name",
                                            "description",        "deliver_policy",
                                            "opt_start_seq",      "opt_start_time",
                                            "ack_policy",         "ack_wait",
                                            "max_deliver",        "backoff",
                                            "filter_subject",     "replay_policy",
                                            "rate_limit_bps",     "sample_freq",
                                            "max_waiting",        "max_ack_pending",
                                            "flow_control",       "idle_heartbeat",
                                            "headers_only",       "max_batch",
                                            "max_expires",        "max_bytes",
                                            "inactive_threshold", "num_replicas",
                                            "mem_storage",        "deliver_subject",
                                            "deliver_group",      "direct",
                                            "filter_subjects",    "metadata"};

static const char *const other_keys[] = {
    "offset",       "subject",         "filter",          "seq",      "keep",        "last_by_subj",
    "next_by_subj", "deleted_details", "subjects_filter", "no_erase", "stream_name", "config",
    "action",       "batch",           "expires",         "no_wait"};

/* Values near the edges, by type and not. */
static const char *const values[] = {"0",
                                     "1",
                                     "-1",
                                     "2",
                                     "100000000",
                                     "1000000000",
                                     "30000000000",
                                     "9223372036854775807",
                                     "-9223372036854775808",
                                     "9223372036854775808",
                                     "18446744073709551615",
                                     "1e3",
                                     "1.5",
                                     "null",
                                     "true",
                                     "false",
                                     "\"\"",
                                     "\"x\"",
                                     "\"memory\"",
                                     "\"file\"",
                                     "\"limits\"",
                                     "\"interest\"",
                                     "\"workqueue\"",
                                     "\"old\"",
                                     "\"new\"",
                                     "\"all\"",
                                     "\"last\"",
                                     "\"explicit\"",
                                     "\"none\"",
                                     "\"instant\"",
                                     "\"original\"",
                                     "\"last_per_subject\"",
                                     "\"by_start_sequence\"",
                                     "\"by_start_time\"",
                                     "\"2024-01-01T00:00:00Z\"",
                                     "\"S.>\"",
                                     "\"S.a\"",
                                     "\"T.*\"",
                                     "\">\"",
                                     "\"*\"",
                                     "\"a..b\"",
                                     "\"$JS.API.>\"",
                                     "[]",
                                     "{}",
                                     "[\"S.>\"]",
                                     "[\"S.a\",\"S.b\"]",
                                     "[\"T.>\",\"T.a\"]",
                                     "[1000000000,2000000000]",
                                     "{\"src\":\"S.>\",\"dest\":\"R.>\"}",
                                     "{\"src\":\">\",\"dest\":\"S.x\"}",
                                     "[{\"name\":\"T\"}]",
                                     "{\"name\":\"T\"}",
                                     "\"dl.x\"",
                                     "\"q\"",
                                     "\"\\u0000\"",
                                     "\"\\ud800\""};

/* Appends text to out when it fits (else leaves it as it is). */
static size_t add_text(char *out, size_t n, size_t cap, const char *text)
{
    size_t len = strlen(text);
    if (n + len >= cap) {
        return n;
    }
    memcpy(out + n, text, len);
    return n + len;
}

/* A long string value: a subject or text of about NE_JS_TEXT_BYTES or
 * NE_JS_NAME_BYTES, to or one past the bound. */
static size_t add_long(js_program *p, char *out, size_t n, size_t cap)
{
    size_t bounds[] = {NE_JS_TEXT_BYTES, NE_JS_NAME_BYTES, 4096};
    size_t len = bounds[js_pick(p, 3)] - 2 + js_pick(p, 4);
    if (n + len + 8 >= cap) {
        return n;
    }
    out[n++] = '"';
    for (size_t i = 0; i < len; i++) {
        out[n++] = (i % 8 == 7) ? '.' : 's';
    }
    out[n++] = '"';
    return n;
}

/* A JSON object of keys from `keys` with chosen values; some nested in
 * "config" for consumer creates. */
static size_t build_object(js_program *p, char *out, size_t cap, const char *const *keys,
                           size_t key_count, const char *prefix, bool nested)
{
    size_t n = add_text(out, 0, cap, "{");
    n = add_text(out, n, cap, prefix);
    uint32_t count = js_pick(p, 8);
    bool first = prefix[0] == '\0';
    for (uint32_t i = 0; i < count; i++) {
        if (!first) {
            n = add_text(out, n, cap, ",");
        }
        first = false;
        n = add_text(out, n, cap, "\"");
        uint8_t k = js_next(p);
        n = add_text(out, n, cap,
                     k < 8 ? other_keys[k % NE_ARRAY_LEN(other_keys)] : keys[k % key_count]);
        n = add_text(out, n, cap, "\":");
        uint8_t v = js_next(p);
        if (v == 0xff) {
            n = add_long(p, out, n, cap);
        } else {
            n = add_text(out, n, cap, values[v % NE_ARRAY_LEN(values)]);
        }
    }
    n = add_text(out, n, cap, nested ? "}}" : "}");
    return n;
}

static char body[NE_JS_API_REQUEST_BYTES + 512];

/* The body of a request: raw input bytes, or built. */
static size_t make_body(js_program *p, uint32_t kind, const char *stream, const char *consumer)
{
    uint8_t how = js_next(p);
    if ((how & 3) == 0) {
        size_t len = js_next16(p) % (sizeof(body) - 1);
        size_t i = 0;
        for (; i < len && p->pos < p->size; i++) {
            body[i] = (char)js_next(p);
        }
        if ((how & 4) != 0 && i < len) {
            /* Padded to the length: bodies at and past NE_JS_API_REQUEST_BYTES. */
            memset(body + i, ' ', len - i);
            i = len;
        }
        return i;
    }
    if ((how & 3) == 1) {
        return 0;
    }
    char prefix[NE_JS_NAME_BYTES + 64];
    switch (kind) {
    case 0: /* stream create/update */
        snprintf(prefix, sizeof(prefix), "\"name\":\"%s\",\"storage\":\"memory\"", stream);
        return build_object(p, body, sizeof(body), stream_keys, NE_ARRAY_LEN(stream_keys), prefix,
                            false);
    case 1: /* consumer create */
        snprintf(prefix, sizeof(prefix), "\"stream_name\":\"%s\",\"config\":{\"name\":\"%s\"",
                 stream, consumer);
        return build_object(p, body, sizeof(body), consumer_keys, NE_ARRAY_LEN(consumer_keys),
                            (how & 8) != 0 ? prefix : "", (how & 8) != 0);
    default:
        return build_object(p, body, sizeof(body), other_keys, NE_ARRAY_LEN(other_keys), "", false);
    }
}

static void api_op(js_program *p, int c)
{
    const char *s = streams[js_pick(p, NE_ARRAY_LEN(streams))];
    const char *k = consumers[js_pick(p, NE_ARRAY_LEN(consumers))];
    char subject[256];
    uint32_t kind = 2;
    switch (js_pick(p, 22)) {
    case 0:
        snprintf(subject, sizeof(subject), "$JS.API.INFO");
        break;
    case 1:
    case 2:
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.CREATE.%s", s);
        kind = 0;
        break;
    case 3:
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.UPDATE.%s", s);
        kind = 0;
        break;
    case 4:
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.DELETE.%s", s);
        break;
    case 5:
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.INFO.%s", s);
        break;
    case 6:
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.%s", js_next(p) & 1 ? "NAMES" : "LIST");
        break;
    case 7:
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.PURGE.%s", s);
        break;
    case 8:
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.MSG.GET.%s", s);
        break;
    case 9:
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.MSG.DELETE.%s", s);
        break;
    case 10:
        snprintf(subject, sizeof(subject), "$JS.API.DIRECT.GET.%s", s);
        break;
    case 11:
        snprintf(subject, sizeof(subject), "$JS.API.DIRECT.GET.%s.%s.%s", s, s,
                 js_next(p) & 1 ? "a" : "*");
        break;
    case 12:
    case 13:
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.CREATE.%s", s);
        kind = 1;
        break;
    case 14:
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.CREATE.%s.%s", s, k);
        kind = 1;
        break;
    case 15:
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.CREATE.%s.%s.%s.a", s, k, s);
        kind = 1;
        break;
    case 16:
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.DURABLE.CREATE.%s.%s", s, k);
        kind = 1;
        break;
    case 17:
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.INFO.%s.%s", s, k);
        break;
    case 18:
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.DELETE.%s.%s", s, k);
        break;
    case 19:
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.%s.%s",
                 js_next(p) & 1 ? "NAMES" : "LIST", s);
        break;
    case 20:
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.MSG.NEXT.%s.%s", s, k);
        break;
    default:
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.LEADER.STEPDOWN.%s", s);
        break;
    }
    size_t len = make_body(p, kind, s, k);
    js_pub(c, subject, js_next(p) == 0 ? "" : "in.r", body, len);
}

/* A publish on a stream's subjects, with headers sometimes. */
static void publish_op(js_program *p, int c)
{
    const char *s = streams[js_pick(p, NE_ARRAY_LEN(streams))];
    char subject[64];
    snprintf(subject, sizeof(subject), "%s.%c", s, 'a' + js_pick(p, 3));
    static const char *const headers[] = {"Nats-Msg-Id: %u",
                                          "Nats-Expected-Stream: %s",
                                          "Nats-Expected-Last-Sequence: %u",
                                          "Nats-Expected-Last-Subject-Sequence: %u",
                                          "Nats-Expected-Last-Msg-Id: %u",
                                          "Nats-Rollup: sub",
                                          "Nats-Rollup: all",
                                          "Nats-Rollup: x"};
    uint8_t h = js_next(p);
    const char *reply = (h & 0x80) != 0 ? "in.p" : "";
    if ((h & 0x40) == 0) {
        js_pub(c, subject, reply, "payload", 7 * (h & 1));
        return;
    }
    char line[128], hdr[192];
    const char *form = headers[h % NE_ARRAY_LEN(headers)];
    if (strstr(form, "%s") != NULL) {
        snprintf(line, sizeof(line), form, js_next(p) & 1 ? s : "X");
    } else {
        snprintf(line, sizeof(line), form, (unsigned)js_pick(p, 8));
    }
    int n = snprintf(hdr, sizeof(hdr), "NATS/1.0\r\n%s\r\n\r\n", line);
    js_hpub(c, subject, reply, hdr, (size_t)n, "payload", 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    js_start();
    js_program p = {data, size, 0};
    for (int i = 0; i < JS_MAX_OPS && p.pos < p.size; i++) {
        uint8_t op = js_next(&p);
        int c = op & 1;
        switch ((op >> 1) % 8) {
        case 0:
        case 1:
        case 2:
        case 3:
            api_op(&p, c);
            break;
        case 4:
        case 5:
            publish_op(&p, c);
            break;
        case 6:
            if (js_ack_count > 0) {
                static const char *const acks[] = {"+ACK", "-NAK", "+TERM", "+WPI", "+NXT"};
                const char *a =
                    js_acks[js_pick(&p, js_ack_count < JS_ACKS ? js_ack_count : JS_ACKS)];
                const char *b = acks[js_pick(&p, NE_ARRAY_LEN(acks))];
                js_pub(c, a, js_next(&p) & 1 ? "in.a" : "", b, strlen(b));
            }
            break;
        default:
            js_advance(js_next16(&p) % 6000);
            break;
        }
        js_step(1);
        js_check();
    }
    js_finish();
    return 0;
}
