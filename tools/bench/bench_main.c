/* tools/bench: command line. See usage() and docs/performance.md. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: bench MODE [K] [options]\n"
        "  MODE: pub | pubsub | fanout [K] | queue [K] | reqrep | mqtt [K] | mqtt-idle\n"
        "  --url nats://HOST:PORT     server (default nats://127.0.0.1:4222)\n"
        "  --host HOST, --port PORT   the same, separately\n"
        "  --size N                   payload bytes, suffix k for KiB (default 128)\n"
        "  --count N                  messages (requests) to send (default 1000000; reqrep 20000)\n"
        "  --duration S               publish for S seconds after the warm-up instead\n"
        "  --warmup S                 seconds excluded from rates/latencies (default 0)\n"
        "  --window W                 messages the publisher may be ahead of the slowest\n"
        "                             receiver (default: about 2 MiB of messages)\n"
        "  --subs K                   receivers for fanout/queue (default 4)\n"
        "  --subject S                subject (default bench)\n"
        "  --timeout S                fail after S seconds without progress (default 10)\n"
        "  --spin                     busy-poll instead of sleeping in epoll_wait\n"
        "                             (takes the client's wake-up out of reqrep latency)\n"
        "  --batch-bytes N            publisher's write buffer: one writev per batch of\n"
        "                             messages (default 1m, at most window/4 messages)\n"
        "  --sub-port PORT            receivers (responder) on another port of the host,\n"
        "                             e.g. a leaf's hub (default: the same server)\n"
        "  --settle S                 wait S seconds after the receivers subscribed\n"
        "                             (interest crossing a leaf link; default 0)\n"
        "  --quiet                    print only the BENCH line\n"
        "MQTT (3.1.1; the server at mqtt://HOST:PORT, port 1883 unless given):\n"
        "  mqtt [K]                   one publisher, K subscribers (default 1) of the\n"
        "                             topic --subject; throughput and latency\n"
        "  --qos Q                    QoS of publishes and subscriptions (default 0;\n"
        "                             at QoS 1 and 2 the default --window is 20)\n"
        "  mqtt-idle                  --conns N idle connections (default 10000) with\n"
        "  --keepalive S              this keep-alive (default 60), held --hold S\n"
        "  --hold S                   seconds (default 10)\n"
        "JetStream (a file stream; the server started with JetStream):\n"
        "  js-pub                     --count publishes (default 10000) awaiting their\n"
        "                             acks, at most --window at once (default 1: sync\n"
        "                             publish); rate and publish-to-ack latency\n"
        "  js-fetch                   fills a stream with --count messages (--window\n"
        "                             default 256), then a durable pull consumer with\n"
        "                             explicit acks fetches them, --batch N per pull\n"
        "                             request (default 128), two requests outstanding\n"
        "  js-kv                      --count KV puts then --count direct gets, one\n"
        "                             outstanding, over 100 keys of bucket 'bench'\n"
        "  js-streams                 creates --count file streams (default 1) and\n"
        "                             leaves them\n"
        "  js-multi [K]               K file streams (default 1): --count publishes\n"
        "                             (default 10000) round-robin over them, at most\n"
        "                             --window (default 256) awaiting their acks, then\n"
        "                             a durable pull consumer per stream with explicit\n"
        "                             acks reads them back (--batch per pull request,\n"
        "                             two outstanding per consumer); both rates\n"
        "  --memory                   a memory stream instead of a file stream\n"
        "  --keep                     do not delete the stream at the end\n"
        "  --msg-id                   js-pub: each publish with a Nats-Msg-Id header\n"
        "Exit status: 0 clean run, 1 lost/duplicated/reordered messages, 2 setup error.\n");
}

const char *bench_mode_name(bench_mode m)
{
    static const char *const names[] = {"pub",      "pubsub", "fanout",     "queue",
                                        "reqrep",   "mqtt",   "mqtt-idle",  "js-pub",
                                        "js-fetch", "js-kv",  "js-streams", "js-multi"};
    return names[m];
}

static int parse_mode(const char *s, bench_mode *m)
{
    for (int i = 0; i <= BENCH_MODE_JS_MULTI; i++) {
        if (strcmp(s, bench_mode_name((bench_mode)i)) == 0) {
            *m = (bench_mode)i;
            return 0;
        }
    }
    return -1;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t mul = 1;
    if (end != s && (*end == 'k' || *end == 'K')) {
        mul = 1024;
        end++;
    } else if (end != s && (*end == 'm' || *end == 'M')) {
        mul = 1024 * 1024;
        end++;
    }
    if (end == s || *end != '\0' || s[0] == '-') {
        return -1;
    }
    *out = (uint64_t)v * mul;
    return 0;
}

static int parse_seconds(const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || v < 0 || v > 86400) {
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_url(const char *url, bench_opts *o)
{
    const char *p = strstr(url, "://");
    p = p != NULL ? p + 3 : url;
    const char *colon = strrchr(p, ':');
    size_t host_len = colon != NULL ? (size_t)(colon - p) : strlen(p);
    if (host_len == 0 || host_len >= sizeof(o->host)) {
        return -1;
    }
    memcpy(o->host, p, host_len);
    o->host[host_len] = '\0';
    if (colon != NULL) {
        uint64_t port;
        if (parse_u64(colon + 1, &port) != 0 || port == 0 || port > 65535) {
            return -1;
        }
        o->port = (int)port;
    }
    return 0;
}

/* The default window: about 2 MiB of messages in flight per receiver, which
 * keeps loopback busy without nearing nats-server's slow-consumer limit. */
static uint64_t default_window(size_t size_bytes)
{
    uint64_t w = (2u * 1024u * 1024u) / (size_bytes + 40);
    return w < 64 ? 64 : (w > 65536 ? 65536 : w);
}

enum {
    OPT_URL = 256,
    OPT_HOST,
    OPT_PORT,
    OPT_SIZE,
    OPT_COUNT,
    OPT_DURATION,
    OPT_WARMUP,
    OPT_WINDOW,
    OPT_SUBS,
    OPT_SUBJECT,
    OPT_TIMEOUT,
    OPT_QUIET,
    OPT_SPIN,
    OPT_BATCH,
    OPT_SUB_PORT,
    OPT_SETTLE,
    OPT_QOS,
    OPT_CONNS,
    OPT_KEEPALIVE,
    OPT_HOLD,
    OPT_BATCH_MSGS,
    OPT_MEMORY,
    OPT_KEEP,
    OPT_MSG_ID,
    OPT_HELP
};

static int parse_option(int opt, const char *arg, bench_opts *o, bool *count_given)
{
    uint64_t v = 0;
    switch (opt) {
    case OPT_URL:
        return parse_url(arg, o);
    case OPT_HOST:
        return snprintf(o->host, sizeof(o->host), "%s", arg) < (int)sizeof(o->host) ? 0 : -1;
    case OPT_PORT:
        if (parse_u64(arg, &v) != 0 || v == 0 || v > 65535) {
            return -1;
        }
        o->port = (int)v;
        return 0;
    case OPT_SIZE:
        if (parse_u64(arg, &v) != 0 || v > 64u * 1024u * 1024u) {
            return -1;
        }
        o->size_bytes = (size_t)v;
        return 0;
    case OPT_COUNT:
        *count_given = true;
        return parse_u64(arg, &o->count) != 0 || o->count == 0 ? -1 : 0;
    case OPT_DURATION:
        return parse_seconds(arg, &o->duration_s) != 0 || o->duration_s <= 0 ? -1 : 0;
    case OPT_WARMUP:
        return parse_seconds(arg, &o->warmup_s);
    case OPT_WINDOW:
        return parse_u64(arg, &o->window) != 0 || o->window == 0 ? -1 : 0;
    case OPT_SUBS:
        if (parse_u64(arg, &v) != 0 || v == 0 || v > BENCH_SUBS_MAX) {
            return -1;
        }
        o->subs = (int)v;
        return 0;
    case OPT_SUBJECT:
        o->subject = arg;
        return strlen(arg) > 0 && strlen(arg) < 200 && strpbrk(arg, " \t\r\n") == NULL ? 0 : -1;
    case OPT_TIMEOUT:
        return parse_seconds(arg, &o->timeout_s) != 0 || o->timeout_s <= 0 ? -1 : 0;
    case OPT_QUIET:
        o->quiet = true;
        return 0;
    case OPT_SPIN:
        o->spin = true;
        return 0;
    case OPT_BATCH:
        if (parse_u64(arg, &v) != 0 || v < 1024 || v > 64u * 1024u * 1024u) {
            return -1;
        }
        o->batch_bytes = (size_t)v;
        return 0;
    case OPT_SUB_PORT:
        if (parse_u64(arg, &v) != 0 || v == 0 || v > 65535) {
            return -1;
        }
        o->sub_port = (int)v;
        return 0;
    case OPT_SETTLE:
        return parse_seconds(arg, &o->settle_s);
    case OPT_QOS:
        if (parse_u64(arg, &v) != 0 || v > 2) {
            return -1;
        }
        o->qos = (int)v;
        return 0;
    case OPT_CONNS:
        if (parse_u64(arg, &v) != 0 || v == 0 || v > 1000000) {
            return -1;
        }
        o->conns = (int)v;
        return 0;
    case OPT_KEEPALIVE:
        if (parse_u64(arg, &v) != 0 || v > 65535) {
            return -1;
        }
        o->keepalive = (int)v;
        return 0;
    case OPT_HOLD:
        return parse_seconds(arg, &o->hold_s);
    case OPT_BATCH_MSGS:
        if (parse_u64(arg, &v) != 0 || v == 0 || v > 100000) {
            return -1;
        }
        o->batch = (int)v;
        return 0;
    case OPT_MEMORY:
        o->memory = true;
        return 0;
    case OPT_KEEP:
        o->keep = true;
        return 0;
    case OPT_MSG_ID:
        o->msg_id = true;
        return 0;
    default:
        return -1;
    }
}

int main(int argc, char **argv)
{
    const uint16_t probe = 1;
    if (*(const unsigned char *)&probe != 1) {
        fprintf(stderr, "bench: little-endian hosts only\n");
        return 2;
    }
    static const struct option long_opts[] = {
        {"url", required_argument, NULL, OPT_URL},
        {"host", required_argument, NULL, OPT_HOST},
        {"port", required_argument, NULL, OPT_PORT},
        {"size", required_argument, NULL, OPT_SIZE},
        {"count", required_argument, NULL, OPT_COUNT},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"window", required_argument, NULL, OPT_WINDOW},
        {"subs", required_argument, NULL, OPT_SUBS},
        {"subject", required_argument, NULL, OPT_SUBJECT},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"spin", no_argument, NULL, OPT_SPIN},
        {"batch-bytes", required_argument, NULL, OPT_BATCH},
        {"sub-port", required_argument, NULL, OPT_SUB_PORT},
        {"settle", required_argument, NULL, OPT_SETTLE},
        {"qos", required_argument, NULL, OPT_QOS},
        {"conns", required_argument, NULL, OPT_CONNS},
        {"keepalive", required_argument, NULL, OPT_KEEPALIVE},
        {"hold", required_argument, NULL, OPT_HOLD},
        {"batch", required_argument, NULL, OPT_BATCH_MSGS},
        {"memory", no_argument, NULL, OPT_MEMORY},
        {"keep", no_argument, NULL, OPT_KEEP},
        {"msg-id", no_argument, NULL, OPT_MSG_ID},
        {"help", no_argument, NULL, OPT_HELP},
        {NULL, 0, NULL, 0},
    };
    bench_opts o = {.port = 4222,
                    .size_bytes = 128,
                    .subs = 4,
                    .timeout_s = 10,
                    .subject = "bench",
                    .batch_bytes = BENCH_WRITE_BUF_BYTES,
                    .conns = 10000,
                    .keepalive = 60,
                    .hold_s = 10,
                    .batch = 128};
    bool port_given = false;
    snprintf(o.host, sizeof(o.host), "127.0.0.1");
    bool count_given = false;
    int opt;
    while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        if (opt == 'h' || opt == OPT_HELP) {
            usage(stdout);
            return 0;
        }
        port_given = port_given || opt == OPT_PORT || opt == OPT_URL;
        if (opt == '?' || parse_option(opt, optarg, &o, &count_given) != 0) {
            if (opt != '?') {
                fprintf(stderr, "bench: bad value for --%s: '%s'\n", long_opts[opt - OPT_URL].name,
                        optarg);
            }
            usage(stderr);
            return 2;
        }
    }
    int npos = argc - optind;
    if (npos < 1 || npos > 2 || parse_mode(argv[optind], &o.mode) != 0) {
        usage(stderr);
        return 2;
    }
    if (npos == 2) {
        uint64_t k;
        if ((o.mode != BENCH_MODE_FANOUT && o.mode != BENCH_MODE_QUEUE &&
             o.mode != BENCH_MODE_MQTT && o.mode != BENCH_MODE_JS_MULTI) ||
            parse_u64(argv[optind + 1], &k) != 0 || k == 0 || k > BENCH_SUBS_MAX) {
            usage(stderr);
            return 2;
        }
        o.subs = (int)k;
    }
    bool mqtt = o.mode == BENCH_MODE_MQTT || o.mode == BENCH_MODE_MQTT_IDLE;
    if (mqtt && !port_given) {
        o.port = 1883;
    }
    if ((o.mode == BENCH_MODE_MQTT || o.mode == BENCH_MODE_JS_MULTI) && npos == 1) {
        o.subs = 1;
    }
    if (count_given && o.duration_s > 0) {
        fprintf(stderr, "bench: --count and --duration exclude each other\n");
        return 2;
    }
    bool js = o.mode >= BENCH_MODE_JS_PUB;
    if (js && o.duration_s > 0) {
        fprintf(stderr, "bench: the js modes take --count, not --duration\n");
        return 2;
    }
    if (js && !count_given) {
        o.count = o.mode == BENCH_MODE_JS_STREAMS ? 1 : 10000;
    }
    if (js && o.window == 0) {
        o.window = o.mode == BENCH_MODE_JS_PUB ? 1 : 256;
    }
    if (js) {
        return bench_run_js(&o);
    }
    if (!count_given && o.duration_s == 0) {
        o.count = o.mode == BENCH_MODE_REQREP ? 20000 : 1000000;
    }
    if (o.window == 0) {
        /* MQTT at QoS 1 and 2: brokers keep a few dozen messages per session
         * (natsedge's default 64; mosquitto drops a QoS 2 publish beyond its
         * max_inflight_messages, 20). */
        o.window = o.mode == BENCH_MODE_MQTT && o.qos > 0 ? 20 : default_window(o.size_bytes);
    }
    if (o.mode == BENCH_MODE_MQTT_IDLE) {
        return bench_run_mqtt_idle(&o);
    }
    if (o.mode == BENCH_MODE_MQTT) {
        return bench_run_mqtt(&o);
    }
    int rc = o.mode == BENCH_MODE_REQREP ? bench_run_reqrep(&o) : bench_run_throughput(&o);
    return rc;
}
