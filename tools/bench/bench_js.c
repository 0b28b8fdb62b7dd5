/* tools/bench: JetStream runs over the raw protocol (one connection):
 *
 *   js-pub      publishes --count messages of --size bytes to a file stream
 *               and waits for each one's ack; at most --window publishes
 *               await their acks (1: sync publish, one outstanding). Rate and
 *               publish-to-ack latency.
 *   js-fetch    fills a stream with --count messages, then a durable pull
 *               consumer (ack explicit) fetches them in pull requests of
 *               --batch, two requests outstanding, acking each message as it
 *               arrives. Rate of the fetch phase.
 *   js-kv       a KV bucket as nats.js makes it (KV_<name>, direct get): --count
 *               puts, one outstanding, over 100 keys, then --count gets of those
 *               keys by $JS.API.DIRECT.GET. Rate and latency of each.
 *   js-streams  creates --count file streams (one outstanding) and leaves
 *               them (the caller measures the server's memory).
 *   js-multi    K file streams (BENCH_M0..): --count publishes round-robin
 *               over them, at most --window awaiting their acks (acks of
 *               different streams may come back in any order), then a durable
 *               pull consumer per stream (ack explicit) reads its stream back,
 *               two pull requests of --batch outstanding per consumer, each
 *               message acked as it arrives. Rate of each phase.
 *
 * Each run creates its own stream (BENCH_<mode>) and deletes it at the end
 * unless --keep. A reply that is not the expected ack (a JetStream error)
 * fails the run. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"

#define JS_INBOX "_INBOX.jsbench."
#define JS_RESP_BYTES 16384u
#define JS_KV_KEYS 100u

typedef struct js_run {
    const bench_opts *o;
    bench_conn c;
    char *wbuf; /* the connection's bulk data (owned here) */
    size_t wcap;
    char *payload;
    bool bad;
    char error[512];

    /* API requests: one outstanding, its reply copied whole. */
    uint64_t api_seq;
    bool api_got;
    char resp[JS_RESP_BYTES];
    size_t resp_len;

    /* Publishes (js-pub, js-kv puts, filling js-fetch) and gets (js-kv). */
    uint64_t sent;
    uint64_t acked;
    uint64_t *sent_ns; /* by sequence, count entries */
    uint64_t *lat_ns;  /* by sequence */
    uint64_t last_ack_seq;
    bool cleaning; /* after a failure: late replies are ignored */

    /* Fetch. */
    uint64_t requested;
    uint64_t fetched;

    /* js-multi: acks taken in any order (each once), and per stream what
     * was requested and fetched. */
    bool unordered;
    unsigned char *acked_flag; /* by sequence */
    uint64_t nstreams;
    uint64_t *m_requested;
    uint64_t *m_fetched;
} js_run;

static void js_fail(js_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void js_fail(js_run *r, const char *fmt, ...)
{
    if (r->bad) {
        return;
    }
    r->bad = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof(r->error), fmt, ap);
    va_end(ap);
}

/* Appends a message to the bulk buffer: the buffer is compacted first, and
 * grown when the message does not fit (the tool is not bound by the broker's
 * rules). */
static int js_put(js_run *r, const char *subject, const char *reply, const void *data, size_t len,
                  uint64_t msg_id)
{
    bench_conn *c = &r->c;
    if (c->bulk_off == c->bulk_len) {
        c->bulk_off = c->bulk_len = 0;
    } else if (c->bulk_off > 0) {
        memmove(r->wbuf, r->wbuf + c->bulk_off, c->bulk_len - c->bulk_off);
        c->bulk_len -= c->bulk_off;
        c->bulk_off = 0;
    }
    size_t need = c->bulk_len + strlen(subject) + strlen(reply) + len + 128;
    if (need > r->wcap) {
        size_t cap = r->wcap * 2 > need ? r->wcap * 2 : need;
        char *n = realloc(r->wbuf, cap);
        if (n == NULL) {
            js_fail(r, "out of memory");
            return -1;
        }
        r->wbuf = n;
        r->wcap = cap;
    }
    int h;
    if (msg_id > 0) {
        char hdr[64];
        int hl = snprintf(hdr, sizeof(hdr), "NATS/1.0\r\nNats-Msg-Id: %llu\r\n\r\n",
                          (unsigned long long)msg_id);
        h = snprintf(r->wbuf + c->bulk_len, r->wcap - c->bulk_len, "HPUB %s%s%s %d %zu\r\n%s",
                     subject, reply[0] != '\0' ? " " : "", reply, hl, (size_t)hl + len, hdr);
    } else {
        h = snprintf(r->wbuf + c->bulk_len, r->wcap - c->bulk_len, "PUB %s%s%s %zu\r\n", subject,
                     reply[0] != '\0' ? " " : "", reply, len);
    }
    if (h < 0 || (size_t)h >= r->wcap - c->bulk_len) {
        js_fail(r, "write buffer");
        return -1;
    }
    c->bulk_len += (size_t)h;
    memcpy(r->wbuf + c->bulk_len, data, len);
    c->bulk_len += len;
    memcpy(r->wbuf + c->bulk_len, "\r\n", 2);
    c->bulk_len += 2;
    c->bulk = r->wbuf;
    return 0;
}

/* One round: writes what it can, waits up to wait_ms for input, reads it. */
static int js_pump(js_run *r, int wait_ms)
{
    bench_conn *c = &r->c;
    int f = bench_conn_flush(c);
    if (f < 0) {
        js_fail(r, "%s", c->error);
        return -1;
    }
    struct pollfd pfd = {.fd = c->fd, .events = (short)(POLLIN | (f == 0 ? POLLOUT : 0))};
    int n = poll(&pfd, 1, wait_ms);
    if (n < 0 && errno != EINTR) {
        js_fail(r, "poll: %s", strerror(errno));
        return -1;
    }
    if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) != 0 && bench_conn_read(c) != 0) {
        js_fail(r, "%s", c->error);
        return -1;
    }
    return r->bad ? -1 : 0;
}

static bool has_prefix(const char *s, size_t n, const char *prefix, size_t *rest)
{
    size_t p = strlen(prefix);
    if (n < p || memcmp(s, prefix, p) != 0) {
        return false;
    }
    *rest = p;
    return true;
}

static uint64_t parse_dec(const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}

/* A reply to a publish or a get: `_INBOX.jsbench.p.<seq>` or `.g.<seq>`. */
static void on_ack(js_run *r, uint64_t seq, const unsigned char *payload, size_t avail, bool get)
{
    bench_conn *c = &r->c;
    if (r->cleaning) {
        return;
    }
    if (r->unordered) {
        if (seq == 0 || seq > r->sent || r->acked_flag[seq - 1] != 0) {
            js_fail(r, "ack %llu: unexpected or twice", (unsigned long long)seq);
            return;
        }
    } else if (seq != r->last_ack_seq + 1) {
        js_fail(r, "ack %llu after %llu: out of order", (unsigned long long)seq,
                (unsigned long long)r->last_ack_seq);
        return;
    }
    if (get) {
        /* A direct get answers with the message and its Nats-* headers; a
         * missing one with a status line (404) and no body. */
        if (c->msg_hdr_bytes == 0 || avail < 12 || memcmp(payload, "NATS/1.0\r\n", 10) != 0) {
            js_fail(r, "get %llu: '%.*s'", (unsigned long long)seq, (int)(avail < 80 ? avail : 80),
                    (const char *)payload);
            return;
        }
    } else if (avail < 8 || memmem(payload, avail, "\"error\"", 7) != NULL ||
               memmem(payload, avail, "\"seq\"", 5) == NULL) {
        js_fail(r, "publish %llu: '%.*s'", (unsigned long long)seq,
                (int)(avail < 200 ? avail : 200), (const char *)payload);
        return;
    }
    r->last_ack_seq = seq;
    if (r->unordered) {
        r->acked_flag[seq - 1] = 1;
    }
    r->lat_ns[seq - 1] = bench_now_ns() - r->sent_ns[seq - 1];
    r->acked++;
}

static void js_on_msg(bench_conn *c, const char *reply, size_t reply_len,
                      const unsigned char *payload, size_t avail, size_t size)
{
    js_run *r = c->owner;
    size_t at = 0;
    const char *s = c->msg_subject;
    size_t n = c->msg_subject_len;
    if (has_prefix(s, n, JS_INBOX "a.", &at)) {
        if (parse_dec(s + at, n - at) != r->api_seq) {
            return; /* a late reply to an earlier request */
        }
        if (size >= sizeof(r->resp) || avail < size) {
            js_fail(r, "API reply of %zu bytes", size);
            return;
        }
        memcpy(r->resp, payload, size);
        r->resp[size] = '\0';
        r->resp_len = size;
        r->api_got = true;
    } else if (has_prefix(s, n, JS_INBOX "p.", &at)) {
        on_ack(r, parse_dec(s + at, n - at), payload, avail, false);
    } else if (has_prefix(s, n, JS_INBOX "g.", &at)) {
        on_ack(r, parse_dec(s + at, n - at), payload, avail, true);
    } else if (has_prefix(s, n, JS_INBOX "f", &at)) {
        /* A status on the pull's inbox (408 request expired, 409, 100
         * heartbeat): not a message. */
        if (avail >= 12 && memcmp(payload, "NATS/1.0 100", 12) == 0) {
            return;
        }
        js_fail(r, "pull status '%.*s' after %llu messages", (int)(avail < 60 ? avail : 60),
                (const char *)payload, (unsigned long long)r->fetched);
    } else if (reply != NULL && reply_len > 8 && reply_len < 256 &&
               memcmp(reply, "$JS.ACK.", 8) == 0) {
        /* A fetched message keeps its subject; its reply is the ack subject. */
        char ack[256];
        memcpy(ack, reply, reply_len);
        ack[reply_len] = '\0';
        r->fetched++;
        if (r->m_fetched != NULL) {
            /* js-multi: the stream is the subject's last token. */
            size_t dot = n;
            while (dot > 0 && s[dot - 1] != '.') {
                dot--;
            }
            uint64_t i = parse_dec(s + dot, n - dot);
            if (dot == 0 || i >= r->nstreams) {
                js_fail(r, "fetched a message on '%.*s'", (int)n, s);
                return;
            }
            r->m_fetched[i]++;
        }
        (void)js_put(r, ack, "", "", 0, 0);
    }
}

/* Sends an API request and waits for its reply (in r->resp). */
static int js_api(js_run *r, const char *subject, const char *body)
{
    char inbox[64];
    r->api_seq++;
    r->api_got = false;
    snprintf(inbox, sizeof(inbox), JS_INBOX "a.%llu", (unsigned long long)r->api_seq);
    if (js_put(r, subject, inbox, body, strlen(body), 0) != 0) {
        return -1;
    }
    uint64_t deadline = bench_now_ns() + (uint64_t)(r->o->timeout_s * 1e9);
    while (!r->api_got) {
        if (bench_now_ns() > deadline) {
            js_fail(r, "no reply to %s within %.1f s", subject, r->o->timeout_s);
            return -1;
        }
        if (js_pump(r, 50) != 0) {
            return -1;
        }
    }
    return 0;
}

/* An API request whose reply must not carry an error. */
static int js_api_ok(js_run *r, const char *subject, const char *body)
{
    if (js_api(r, subject, body) != 0) {
        return -1;
    }
    if (strstr(r->resp, "\"error\"") != NULL) {
        js_fail(r, "%s: %.300s", subject, r->resp);
        return -1;
    }
    return 0;
}

static int js_stream_create(js_run *r, const char *name, const char *subjects_json,
                            const char *extra)
{
    char subject[300], body[1024];
    snprintf(subject, sizeof(subject), "$JS.API.STREAM.CREATE.%s", name);
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"subjects\":%s,\"storage\":\"%s\",\"retention\":\"limits\","
             "\"max_consumers\":-1,\"max_msgs\":-1,\"max_bytes\":-1,\"max_age\":0,"
             "\"max_msg_size\":-1,\"discard\":\"old\",\"num_replicas\":1%s}",
             name, subjects_json, r->o->memory ? "memory" : "file", extra);
    /* A stream left by an interrupted run goes first. */
    char del[300];
    snprintf(del, sizeof(del), "$JS.API.STREAM.DELETE.%s", name);
    if (js_api(r, del, "") != 0) {
        return -1;
    }
    return js_api_ok(r, subject, body);
}

static void js_stream_delete(js_run *r, const char *name)
{
    if (r->o->keep) {
        return;
    }
    char del[300];
    snprintf(del, sizeof(del), "$JS.API.STREAM.DELETE.%s", name);
    (void)js_api_ok(r, del, "");
}

/* Publishes (or gets) count messages with at most `window` awaiting their
 * reply. subject_fmt gets the message's index modulo `keys` (0: not used). */
static int js_publish_loop(js_run *r, uint64_t count, uint64_t window, const char *subject_fmt,
                           uint64_t keys, bool get)
{
    r->sent = r->acked = r->last_ack_seq = 0;
    uint64_t deadline_ns = (uint64_t)(r->o->timeout_s * 1e9);
    uint64_t progress = bench_now_ns();
    uint64_t last_acked = 0;
    while (r->acked < count) {
        while (r->sent < count && r->sent - r->acked < window) {
            char subject[300], inbox[64];
            snprintf(subject, sizeof(subject), subject_fmt,
                     (unsigned long long)(keys > 0 ? r->sent % keys : 0));
            snprintf(inbox, sizeof(inbox), JS_INBOX "%s.%llu", get ? "g" : "p",
                     (unsigned long long)(r->sent + 1));
            r->sent_ns[r->sent] = bench_now_ns();
            if (js_put(r, subject, inbox, r->payload, get ? 0 : r->o->size_bytes,
                       !get && r->o->msg_id ? r->sent + 1 : 0) != 0) {
                return -1;
            }
            r->sent++;
        }
        if (js_pump(r, 20) != 0) {
            return -1;
        }
        uint64_t now = bench_now_ns();
        if (r->acked != last_acked) {
            last_acked = r->acked;
            progress = now;
        } else if (now - progress > deadline_ns) {
            js_fail(r, "no ack for %.1f s after %llu of %llu", r->o->timeout_s,
                    (unsigned long long)r->acked, (unsigned long long)count);
            return -1;
        }
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t pct(const uint64_t *sorted, uint64_t n, double q)
{
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    return sorted[rank > 0 ? rank - 1 : 0];
}

/* Prints the table row and the BENCH line of one phase. */
static void js_report(js_run *r, const char *phase, uint64_t window, uint64_t n, uint64_t t0,
                      uint64_t t1, bool latency)
{
    const bench_opts *o = r->o;
    double s = (double)(t1 - t0) * 1e-9;
    uint64_t p50 = 0, p99 = 0, max = 0;
    if (latency && n > 0) {
        qsort(r->lat_ns, (size_t)n, sizeof(uint64_t), cmp_u64);
        p50 = pct(r->lat_ns, n, 0.50);
        p99 = pct(r->lat_ns, n, 0.99);
        max = r->lat_ns[n - 1];
    }
    double rate = s > 0 ? (double)n / s : 0;
    if (!o->quiet) {
        printf("%-10s %7zu %7llu %8llu %8.3f %10.0f %9.1f %9.1f %9.1f\n", phase, o->size_bytes,
               (unsigned long long)window, (unsigned long long)n, s, rate, (double)p50 / 1e3,
               (double)p99 / 1e3, (double)max / 1e3);
    }
    printf("BENCH mode=%s phase=%s size=%zu window=%llu msgs=%llu elapsed_ns=%llu rate=%.0f",
           bench_mode_name(o->mode), phase, o->size_bytes, (unsigned long long)window,
           (unsigned long long)n, (unsigned long long)(t1 - t0), rate);
    if (r->nstreams > 0) {
        printf(" streams=%llu", (unsigned long long)r->nstreams);
    }
    if (latency) {
        printf(" p50_ns=%llu p99_ns=%llu max_ns=%llu", (unsigned long long)p50,
               (unsigned long long)p99, (unsigned long long)max);
    }
    printf(" ok=1\n");
    fflush(stdout);
}

static void js_header(const js_run *r)
{
    if (!r->o->quiet) {
        printf("%-10s %7s %7s %8s %8s %10s %9s %9s %9s\n", "phase", "size", "window", "msgs",
               "time_s", "msgs/s", "p50_us", "p99_us", "max_us");
    }
}

static int run_pub(js_run *r)
{
    const bench_opts *o = r->o;
    char subjects[256];
    snprintf(subjects, sizeof(subjects), "[\"%s.js.pub\"]", o->subject);
    if (js_stream_create(r, "BENCH_PUB", subjects, "") != 0) {
        return -1;
    }
    char subject[256];
    snprintf(subject, sizeof(subject), "%s.js.pub", o->subject);
    js_header(r);
    uint64_t t0 = bench_now_ns();
    if (js_publish_loop(r, o->count, o->window, subject, 0, false) != 0) {
        return -1;
    }
    uint64_t t1 = bench_now_ns();
    js_report(r, o->window == 1 ? "sync-pub" : "async-pub", o->window, o->count, t0, t1, true);
    js_stream_delete(r, "BENCH_PUB");
    return 0;
}

static int run_fetch(js_run *r)
{
    const bench_opts *o = r->o;
    char subjects[256];
    snprintf(subjects, sizeof(subjects), "[\"%s.js.fetch\"]", o->subject);
    if (js_stream_create(r, "BENCH_FETCH", subjects, "") != 0) {
        return -1;
    }
    char subject[256];
    snprintf(subject, sizeof(subject), "%s.js.fetch", o->subject);
    if (js_publish_loop(r, o->count, o->window, subject, 0, false) != 0) {
        return -1;
    }
    if (js_api_ok(r, "$JS.API.CONSUMER.DURABLE.CREATE.BENCH_FETCH.C",
                  "{\"stream_name\":\"BENCH_FETCH\",\"config\":{\"durable_name\":\"C\","
                  "\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\","
                  "\"ack_wait\":30000000000,\"max_deliver\":-1,\"replay_policy\":\"instant\"}}") !=
        0) {
        return -1;
    }
    js_header(r);
    uint64_t batch = (uint64_t)o->batch;
    uint64_t t0 = bench_now_ns();
    uint64_t progress = t0, last = 0;
    r->requested = r->fetched = 0;
    while (r->fetched < o->count) {
        while (r->requested < o->count && r->requested - r->fetched < 2 * batch) {
            uint64_t b = o->count - r->requested < batch ? o->count - r->requested : batch;
            char body[128];
            snprintf(body, sizeof(body), "{\"batch\":%llu,\"expires\":%llu}", (unsigned long long)b,
                     (unsigned long long)(o->timeout_s * 1e9));
            if (js_put(r, "$JS.API.CONSUMER.MSG.NEXT.BENCH_FETCH.C", JS_INBOX "f", body,
                       strlen(body), 0) != 0) {
                return -1;
            }
            r->requested += b;
        }
        if (js_pump(r, 20) != 0) {
            return -1;
        }
        uint64_t now = bench_now_ns();
        if (r->fetched != last) {
            last = r->fetched;
            progress = now;
        } else if (now - progress > (uint64_t)(o->timeout_s * 1e9)) {
            js_fail(r, "fetch stalled at %llu of %llu", (unsigned long long)r->fetched,
                    (unsigned long long)o->count);
            return -1;
        }
    }
    uint64_t t1 = bench_now_ns();
    /* The acks are in flight: the consumer's ack floor reaches the last
     * message once they are processed (nats-server does that after it
     * answers an info request sent behind them, natsedge before). */
    char floor[64];
    snprintf(floor, sizeof(floor), "\"consumer_seq\":%llu", (unsigned long long)o->count);
    uint64_t deadline = bench_now_ns() + (uint64_t)(o->timeout_s * 1e9);
    for (;;) {
        if (js_api_ok(r, "$JS.API.CONSUMER.INFO.BENCH_FETCH.C", "") != 0) {
            return -1;
        }
        const char *af = strstr(r->resp, "\"ack_floor\"");
        if (af != NULL && strstr(af, floor) != NULL) {
            break;
        }
        if (bench_now_ns() > deadline) {
            js_fail(r, "after the fetch the ack floor is not %llu: %.300s",
                    (unsigned long long)o->count, af != NULL ? af : r->resp);
            return -1;
        }
        (void)js_pump(r, 10);
    }
    js_report(r, "fetch", (uint64_t)o->batch, o->count, t0, t1, false);
    js_stream_delete(r, "BENCH_FETCH");
    return 0;
}

static int run_kv(js_run *r)
{
    const bench_opts *o = r->o;
    if (js_stream_create(r, "KV_bench", "[\"$KV.bench.>\"]",
                         ",\"max_msgs_per_subject\":1,\"allow_rollup_hdrs\":true,"
                         "\"deny_delete\":true,\"allow_direct\":true,"
                         "\"duplicate_window\":120000000000") != 0) {
        return -1;
    }
    js_header(r);
    uint64_t t0 = bench_now_ns();
    if (js_publish_loop(r, o->count, 1, "$KV.bench.k%llu", JS_KV_KEYS, false) != 0) {
        return -1;
    }
    uint64_t t1 = bench_now_ns();
    js_report(r, "kv-put", 1, o->count, t0, t1, true);
    t0 = bench_now_ns();
    if (js_publish_loop(r, o->count, 1, "$JS.API.DIRECT.GET.KV_bench.$KV.bench.k%llu", JS_KV_KEYS,
                        true) != 0) {
        return -1;
    }
    t1 = bench_now_ns();
    js_report(r, "kv-get", 1, o->count, t0, t1, true);
    js_stream_delete(r, "KV_bench");
    return 0;
}

static int run_streams(js_run *r)
{
    const bench_opts *o = r->o;
    uint64_t t0 = bench_now_ns();
    for (uint64_t i = 0; i < o->count; i++) {
        char name[64], subjects[256];
        snprintf(name, sizeof(name), "BENCH_S%llu", (unsigned long long)i);
        snprintf(subjects, sizeof(subjects), "[\"%s.js.s.%llu\"]", o->subject,
                 (unsigned long long)i);
        if (js_stream_create(r, name, subjects, "") != 0) {
            return -1;
        }
    }
    uint64_t t1 = bench_now_ns();
    if (!o->quiet) {
        printf("created %llu streams in %.3f s\n", (unsigned long long)o->count,
               (double)(t1 - t0) * 1e-9);
    }
    printf("BENCH mode=js-streams streams=%llu elapsed_ns=%llu ok=1\n",
           (unsigned long long)o->count, (unsigned long long)(t1 - t0));
    fflush(stdout);
    return 0;
}

/* The messages of stream i of n when count are spread round-robin. */
static uint64_t multi_share(uint64_t count, uint64_t n, uint64_t i)
{
    return count / n + (i < count % n ? 1 : 0);
}

static void multi_delete(js_run *r)
{
    for (uint64_t i = 0; i < r->nstreams; i++) {
        char name[64];
        snprintf(name, sizeof(name), "BENCH_M%llu", (unsigned long long)i);
        if (r->cleaning) {
            r->bad = false; /* after a failure: each stream's delete is tried */
        }
        js_stream_delete(r, name);
    }
}

static int run_multi(js_run *r)
{
    const bench_opts *o = r->o;
    uint64_t n = r->nstreams;
    for (uint64_t i = 0; i < n; i++) {
        char name[64], subjects[256];
        snprintf(name, sizeof(name), "BENCH_M%llu", (unsigned long long)i);
        snprintf(subjects, sizeof(subjects), "[\"%s.js.m.%llu\"]", o->subject,
                 (unsigned long long)i);
        if (js_stream_create(r, name, subjects, "") != 0) {
            return -1;
        }
    }
    char fmt[300];
    snprintf(fmt, sizeof(fmt), "%s.js.m.%%llu", o->subject);
    js_header(r);
    r->unordered = true;
    uint64_t t0 = bench_now_ns();
    if (js_publish_loop(r, o->count, o->window, fmt, n, false) != 0) {
        return -1;
    }
    uint64_t t1 = bench_now_ns();
    js_report(r, "multi-pub", o->window, o->count, t0, t1, true);

    for (uint64_t i = 0; i < n; i++) {
        char subject[128], body[512];
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.DURABLE.CREATE.BENCH_M%llu.C",
                 (unsigned long long)i);
        snprintf(body, sizeof(body),
                 "{\"stream_name\":\"BENCH_M%llu\",\"config\":{\"durable_name\":\"C\","
                 "\"deliver_policy\":\"all\",\"ack_policy\":\"explicit\","
                 "\"ack_wait\":30000000000,\"max_deliver\":-1,\"replay_policy\":\"instant\"}}",
                 (unsigned long long)i);
        if (js_api_ok(r, subject, body) != 0) {
            return -1;
        }
    }
    uint64_t batch = (uint64_t)o->batch;
    r->requested = r->fetched = 0;
    t0 = bench_now_ns();
    uint64_t progress = t0, last = 0;
    while (r->fetched < o->count) {
        for (uint64_t i = 0; i < n; i++) {
            uint64_t want = multi_share(o->count, n, i);
            while (r->m_requested[i] < want && r->m_requested[i] - r->m_fetched[i] < 2 * batch) {
                uint64_t b = want - r->m_requested[i] < batch ? want - r->m_requested[i] : batch;
                char subject[128], body[128];
                snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.MSG.NEXT.BENCH_M%llu.C",
                         (unsigned long long)i);
                snprintf(body, sizeof(body), "{\"batch\":%llu,\"expires\":%llu}",
                         (unsigned long long)b, (unsigned long long)(o->timeout_s * 1e9));
                if (js_put(r, subject, JS_INBOX "f", body, strlen(body), 0) != 0) {
                    return -1;
                }
                r->m_requested[i] += b;
            }
        }
        if (js_pump(r, 20) != 0) {
            return -1;
        }
        uint64_t now = bench_now_ns();
        if (r->fetched != last) {
            last = r->fetched;
            progress = now;
        } else if (now - progress > (uint64_t)(o->timeout_s * 1e9)) {
            uint64_t i = 0, short_streams = 0;
            for (uint64_t j = 0; j < n; j++) {
                if (r->m_fetched[j] < multi_share(o->count, n, j)) {
                    i = short_streams++ == 0 ? j : i;
                }
            }
            js_fail(r,
                    "fetch stalled at %llu of %llu: %llu stream(s) short, the first BENCH_M%llu "
                    "with %llu of %llu",
                    (unsigned long long)r->fetched, (unsigned long long)o->count,
                    (unsigned long long)short_streams, (unsigned long long)i,
                    (unsigned long long)r->m_fetched[i],
                    (unsigned long long)multi_share(o->count, n, i));
            return -1;
        }
    }
    t1 = bench_now_ns();
    for (uint64_t i = 0; i < n; i++) {
        if (r->m_fetched[i] != multi_share(o->count, n, i)) {
            js_fail(r, "stream %llu: fetched %llu of %llu", (unsigned long long)i,
                    (unsigned long long)r->m_fetched[i],
                    (unsigned long long)multi_share(o->count, n, i));
            return -1;
        }
    }
    /* Every consumer's ack floor reaches its last message (see run_fetch). */
    for (uint64_t i = 0; i < n; i++) {
        char subject[128], floor[64];
        snprintf(subject, sizeof(subject), "$JS.API.CONSUMER.INFO.BENCH_M%llu.C",
                 (unsigned long long)i);
        snprintf(floor, sizeof(floor), "\"consumer_seq\":%llu",
                 (unsigned long long)multi_share(o->count, n, i));
        uint64_t deadline = bench_now_ns() + (uint64_t)(o->timeout_s * 1e9);
        for (;;) {
            if (js_api_ok(r, subject, "") != 0) {
                return -1;
            }
            const char *af = strstr(r->resp, "\"ack_floor\"");
            if (af != NULL && strstr(af, floor) != NULL) {
                break;
            }
            if (bench_now_ns() > deadline) {
                js_fail(r, "stream %llu: after the fetch the ack floor is not %llu: %.300s",
                        (unsigned long long)i, (unsigned long long)multi_share(o->count, n, i),
                        af != NULL ? af : r->resp);
                return -1;
            }
            (void)js_pump(r, 10);
        }
    }
    js_report(r, "multi-fetch", batch, o->count, t0, t1, false);
    multi_delete(r);
    return 0;
}

int bench_run_js(const bench_opts *o)
{
    js_run *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        return 2;
    }
    r->o = o;
    r->wcap = 1024 * 1024;
    r->wbuf = malloc(r->wcap);
    r->payload = malloc(o->size_bytes + 1);
    r->sent_ns = calloc((size_t)o->count + 1, sizeof(uint64_t));
    r->lat_ns = calloc((size_t)o->count + 1, sizeof(uint64_t));
    if (o->mode == BENCH_MODE_JS_MULTI) {
        r->nstreams = (uint64_t)o->subs;
        r->acked_flag = calloc((size_t)o->count + 1, 1);
        r->m_requested = calloc(r->nstreams, sizeof(uint64_t));
        r->m_fetched = calloc(r->nstreams, sizeof(uint64_t));
    }
    int rc = 2;
    if (r->wbuf == NULL || r->payload == NULL || r->sent_ns == NULL || r->lat_ns == NULL ||
        (o->mode == BENCH_MODE_JS_MULTI &&
         (r->acked_flag == NULL || r->m_requested == NULL || r->m_fetched == NULL))) {
        fprintf(stderr, "bench: out of memory\n");
        goto out;
    }
    memset(r->payload, 'x', o->size_bytes);
    r->c.owner = r;
    if (bench_conn_open_headers(&r->c, o->host, o->port, "bench-js", o->timeout_s) != 0) {
        fprintf(stderr, "bench: %s\n", r->c.error);
        goto out;
    }
    r->c.owner = r;
    r->c.on_msg = js_on_msg;
    r->c.whole_below = JS_RESP_BYTES;
    if (bench_conn_ctl(&r->c, "SUB " JS_INBOX "> 1\r\n") != 0 ||
        bench_conn_sync(&r->c, o->timeout_s) != 0) {
        fprintf(stderr, "bench: %s\n", r->c.error);
        goto out;
    }
    int run_rc;
    switch (o->mode) {
    case BENCH_MODE_JS_PUB:
        run_rc = run_pub(r);
        break;
    case BENCH_MODE_JS_FETCH:
        run_rc = run_fetch(r);
        break;
    case BENCH_MODE_JS_KV:
        run_rc = run_kv(r);
        break;
    case BENCH_MODE_JS_MULTI:
        run_rc = run_multi(r);
        break;
    default:
        run_rc = run_streams(r);
        break;
    }
    if (run_rc != 0 || r->bad) {
        /* A failed run leaves no stream behind to fill the next one's store. */
        bool was_bad = r->bad;
        r->bad = false;
        r->cleaning = true;
        static const char *const names[] = {"BENCH_PUB", "BENCH_FETCH", "KV_bench"};
        if (!o->keep && o->mode != BENCH_MODE_JS_STREAMS && r->c.fd >= 0 && !r->c.failed) {
            char saved[sizeof(r->error)];
            memcpy(saved, r->error, sizeof(saved));
            if (o->mode == BENCH_MODE_JS_MULTI) {
                multi_delete(r);
            } else {
                js_stream_delete(r, names[o->mode - BENCH_MODE_JS_PUB]);
            }
            memcpy(r->error, saved, sizeof(saved));
        }
        r->bad = was_bad || run_rc != 0;
        printf("BENCH mode=%s size=%zu ok=0 error=\"%s\"\n", bench_mode_name(o->mode),
               o->size_bytes, r->error);
        fflush(stdout);
        rc = 1;
    } else {
        rc = 0;
    }
out:
    bench_conn_close(&r->c);
    free(r->wbuf);
    free(r->payload);
    free(r->sent_ns);
    free(r->lat_ns);
    free(r->acked_flag);
    free(r->m_requested);
    free(r->m_fetched);
    free(r);
    return rc;
}
