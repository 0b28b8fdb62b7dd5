/* tools/bench: the throughput modes (pub, pubsub, fanout, queue) and the
 * request/reply latency mode, each driven by one epoll loop.
 *
 * Publisher: a buffer of prebuilt PUB messages (same subject, same size, so
 * every message sits at a fixed offset) of which only the sequence numbers
 * are rewritten before each batch; a batch is written with one writev. The
 * publisher stays at most `window` messages ahead of the slowest receiver
 * (pub mode: of the server, measured by PONGs to a PING sent after each
 * batch).
 *
 * Receivers: every payload starts with the sequence number. pubsub and fanout
 * receivers must see 1, 2, 3, ... exactly; queue members must each see an
 * increasing sequence and all members together every number exactly once (a
 * bitmap). A run with any loss, duplicate or reordering reports it and no
 * rate. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define PING_RING_LEN 4096u
#define EVENTS_MAX 64

typedef enum phase {
    PHASE_PUBLISH,
    PHASE_DRAIN_PUB,  /* PING on the publisher: the server has read everything */
    PHASE_DRAIN_SUBS, /* PING on each receiver: everything routed has arrived */
    PHASE_DONE,
} phase;

typedef struct run {
    const bench_opts *o;
    int ep;
    bench_conn pub;
    bench_conn *subs;
    int nsubs;
    size_t seq_bytes;
    uint64_t seq_mask;

    /* Publisher: nslots prebuilt messages of slot_len bytes each. */
    char *slots;
    size_t slot_len;
    size_t hdr_len;
    size_t nslots;
    uint64_t sent;
    bool pub_done;
    uint64_t t_stop_ns;

    /* pub mode: for each PING in flight, the messages sent before it. */
    uint64_t ring[PING_RING_LEN];
    size_t ring_head;
    size_t ring_count;
    uint64_t acked;

    /* Receivers. */
    uint64_t delivered;
    uint64_t *seen; /* queue mode: one bit per sequence number */
    size_t seen_words;

    /* Findings. */
    uint64_t reordered; /* duplicates and reorderings seen by one receiver */
    uint64_t duplicates;
    bool bad;
    char first_error[256];

    phase phase;
    uint64_t pub_pongs_want;
    uint64_t *sub_pongs_want;

    /* Timing: the rate window is [t_snap, t_end]. */
    uint64_t t0;
    uint64_t t_snap;
    uint64_t t_end;
    bool snapped;
    uint64_t snap_sent;
    uint64_t snap_delivered;
    struct rusage ru_snap;
    struct rusage ru_end;

    /* reqrep: pub is the requester, subs[0] the responder. */
    char *resp;
    uint64_t req_seq;
    bool got;
    uint64_t t_recv;
} run;

static void run_error(run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_error(run *r, const char *fmt, ...)
{
    if (!r->bad) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->first_error, sizeof(r->first_error), fmt, ap);
        va_end(ap);
    }
    r->bad = true;
}

static double cpu_s(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec * 1e-6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec * 1e-6;
}

/* "12,345,678": thousands separated, for the table only. */
static const char *fmt_count(char *buf, size_t cap, double v)
{
    char digits[32];
    snprintf(digits, sizeof(digits), "%.0f", v < 0 ? 0 : v);
    size_t n = strlen(digits), o = 0;
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0) {
            buf[o++] = ',';
        }
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
    return buf;
}

/* CPU seconds of this whole process so far (setup included). */
static double process_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return cpu_s(&ru);
}

static void seq_setup(run *r, size_t size)
{
    r->seq_bytes = size < BENCH_SEQ_BYTES_MAX ? size : BENCH_SEQ_BYTES_MAX;
    r->seq_mask = r->seq_bytes >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * r->seq_bytes)) - 1;
}

/* Builds the batch buffer: copies of "PUB <subject>[ <reply>] <size>\r\n
 * <payload>\r\n" with a filler payload; only the sequence bytes change later.
 * A batch is at most buf_bytes and at most a quarter of the window, so that
 * several batches are in flight (0 bytes: one message, for reqrep). */
static int slots_build(run *r, const char *subject, const char *reply, size_t buf_bytes)
{
    char hdr[BENCH_LINE_MAX_BYTES];
    int h = reply != NULL
                ? snprintf(hdr, sizeof(hdr), "PUB %s %s %zu\r\n", subject, reply, r->o->size_bytes)
                : snprintf(hdr, sizeof(hdr), "PUB %s %zu\r\n", subject, r->o->size_bytes);
    if (h < 0 || (size_t)h >= sizeof(hdr)) {
        return -1;
    }
    r->hdr_len = (size_t)h;
    r->slot_len = r->hdr_len + r->o->size_bytes + 2;
    size_t nslots = buf_bytes / r->slot_len;
    if (nslots > r->o->window / 4) {
        nslots = (size_t)(r->o->window / 4);
    }
    nslots = nslots < 1 ? 1 : nslots;
    r->nslots = nslots;
    r->slots = malloc(r->slot_len * nslots);
    if (r->slots == NULL) {
        return -1;
    }
    for (size_t s = 0; s < nslots; s++) {
        char *m = r->slots + s * r->slot_len;
        memcpy(m, hdr, r->hdr_len);
        for (size_t i = 0; i < r->o->size_bytes; i++) {
            m[r->hdr_len + i] = (char)('a' + i % 26);
        }
        memcpy(m + r->hdr_len + r->o->size_bytes, "\r\n", 2);
    }
    return 0;
}

static int seen_reserve(run *r, uint64_t max_seq)
{
    size_t words = (size_t)(max_seq / 64 + 1);
    if (words <= r->seen_words) {
        return 0;
    }
    size_t cap = r->seen_words > 0 ? r->seen_words : 1024;
    while (cap < words) {
        cap *= 2;
    }
    uint64_t *p = realloc(r->seen, cap * sizeof(uint64_t));
    if (p == NULL) {
        return -1;
    }
    memset(p + r->seen_words, 0, (cap - r->seen_words) * sizeof(uint64_t));
    r->seen = p;
    r->seen_words = cap;
    return 0;
}

/* pubsub and fanout: each receiver sees 1, 2, 3, ... */
static void on_msg_ordered(bench_conn *c, const char *reply, size_t reply_len,
                           const unsigned char *payload, size_t avail, size_t size)
{
    run *r = c->owner;
    r->delivered++;
    if (size != r->o->size_bytes) {
        run_error(r, "%s: payload of %zu bytes, sent %zu", c->name, size, r->o->size_bytes);
        return;
    }
    if (r->seq_bytes == 0) {
        return;
    }
    uint64_t seq = bench_seq_get(payload, r->seq_bytes);
    uint64_t expected = c->last_seq + 1;
    if (((seq ^ expected) & r->seq_mask) == 0) {
        c->last_seq = expected;
        return;
    }
    if (r->seq_bytes < 8) {
        r->reordered++;
        run_error(r, "%s: expected seq %llu (mod 2^%zu), got %llu", c->name,
                  (unsigned long long)(expected & r->seq_mask), 8 * r->seq_bytes,
                  (unsigned long long)seq);
        c->last_seq = expected;
    } else if (seq < expected) {
        r->reordered++;
        run_error(r, "%s: seq %llu after %llu (duplicate or reordered)", c->name,
                  (unsigned long long)seq, (unsigned long long)c->last_seq);
    } else {
        run_error(r, "%s: lost %llu messages before seq %llu", c->name,
                  (unsigned long long)(seq - expected), (unsigned long long)seq);
        c->last_seq = seq;
    }
}

/* queue: each member's sequence increases; all members see each number once. */
static void on_msg_queue(bench_conn *c, const char *reply, size_t reply_len,
                         const unsigned char *payload, size_t avail, size_t size)
{
    run *r = c->owner;
    r->delivered++;
    if (size != r->o->size_bytes) {
        run_error(r, "%s: payload of %zu bytes, sent %zu", c->name, size, r->o->size_bytes);
        return;
    }
    if (r->seq_bytes < 8) {
        return; /* counts only: documented in docs/performance.md */
    }
    uint64_t seq = bench_seq_get(payload, 8);
    if (seq == 0 || seq > r->sent) {
        run_error(r, "%s: seq %llu never sent", c->name, (unsigned long long)seq);
        return;
    }
    if (seq <= c->last_seq) {
        r->reordered++;
        run_error(r, "%s: seq %llu after %llu (duplicate or reordered)", c->name,
                  (unsigned long long)seq, (unsigned long long)c->last_seq);
    } else {
        c->last_seq = seq;
    }
    uint64_t bit = (uint64_t)1 << ((seq - 1) % 64);
    uint64_t *word = &r->seen[(seq - 1) / 64];
    if ((*word & bit) != 0) {
        r->duplicates++;
        run_error(r, "%s: seq %llu delivered twice in the queue group", c->name,
                  (unsigned long long)seq);
    }
    *word |= bit;
}

static void on_msg_unexpected(bench_conn *c, const char *reply, size_t reply_len,
                              const unsigned char *payload, size_t avail, size_t size)
{
    run_error(c->owner, "%s: unexpected MSG", c->name);
}

static void on_pong_pub(bench_conn *c)
{
    run *r = c->owner;
    if (r->o->mode == BENCH_MODE_PUB && r->ring_count > 0) {
        r->acked = r->ring[r->ring_head];
        r->ring_head = (r->ring_head + 1) % PING_RING_LEN;
        r->ring_count--;
    }
}

static uint64_t run_acked(const run *r)
{
    switch (r->o->mode) {
    case BENCH_MODE_PUB:
        return r->acked;
    case BENCH_MODE_QUEUE:
        return r->delivered;
    default: {
        uint64_t low = UINT64_MAX;
        for (int i = 0; i < r->nsubs; i++) {
            low = r->subs[i].msgs < low ? r->subs[i].msgs : low;
        }
        return low;
    }
    }
}

static int pub_ping(run *r)
{
    if (r->o->mode == BENCH_MODE_PUB) {
        r->ring[(r->ring_head + r->ring_count) % PING_RING_LEN] = r->sent;
        r->ring_count++;
    }
    return bench_conn_ctl(&r->pub, "PING\r\n");
}

/* Writes what is pending, then refills the buffer while the window allows.
 * Once a write would block, nothing is written until epoll reports the
 * socket writable (handle_events): TCP reports that only when a good part of
 * the send buffer is free, whereas retrying on every loop turn would trickle
 * the batch out in slivers, a syscall and a small segment each. Returns 1
 * when it stopped with more to do at once, 0 when it waits for the socket or
 * the receivers, -1 on error. */
static int pub_pump(run *r)
{
    bench_conn *p = &r->pub;
    if (p->epollout) {
        return 0;
    }
    for (int batch = 0; batch < 16; batch++) {
        int f = bench_conn_flush(p);
        if (f < 0) {
            return -1;
        }
        if (bench_conn_want_write(p, f == 0) != 0) {
            return -1;
        }
        if (f == 0 || r->pub_done) {
            return 0;
        }
        uint64_t now = bench_now_ns();
        if ((r->o->count > 0 && r->sent >= r->o->count) ||
            (r->o->count == 0 && now >= r->t_stop_ns) || r->bad) {
            r->pub_done = true;
            return 0;
        }
        uint64_t inflight = r->sent - run_acked(r);
        if (inflight >= r->o->window ||
            (r->o->mode == BENCH_MODE_PUB && r->ring_count + 1 >= PING_RING_LEN)) {
            return 0;
        }
        uint64_t k = r->o->window - inflight;
        k = k < r->nslots ? k : r->nslots;
        if (r->o->count > 0 && k > r->o->count - r->sent) {
            k = r->o->count - r->sent;
        }
        if (r->o->mode == BENCH_MODE_QUEUE && seen_reserve(r, r->sent + k) != 0) {
            run_error(r, "out of memory for the exactly-once bitmap");
            return -1;
        }
        for (uint64_t i = 0; i < k; i++) {
            unsigned char *seq = (unsigned char *)r->slots + i * r->slot_len + r->hdr_len;
            bench_seq_put(seq, r->seq_bytes, r->sent + 1 + i);
        }
        p->bulk = r->slots;
        p->bulk_len = (size_t)k * r->slot_len;
        p->bulk_off = 0;
        r->sent += k;
        if (r->o->mode == BENCH_MODE_PUB && pub_ping(r) != 0) {
            return -1;
        }
    }
    return 1;
}

static void run_snapshot(run *r, uint64_t now)
{
    r->t_snap = now;
    r->snap_sent = r->o->mode == BENCH_MODE_PUB ? r->acked : r->sent;
    r->snap_delivered = r->delivered;
    getrusage(RUSAGE_SELF, &r->ru_snap);
}

static int open_receivers(run *r)
{
    const bench_opts *o = r->o;
    for (int i = 0; i < r->nsubs; i++) {
        bench_conn *c = &r->subs[i];
        char name[32];
        snprintf(name, sizeof(name), "%s-%d", o->mode == BENCH_MODE_QUEUE ? "member" : "sub",
                 i + 1);
        int port = o->sub_port != 0 ? o->sub_port : o->port;
        if (bench_conn_open(c, o->host, port, name, o->timeout_s) != 0) {
            fprintf(stderr, "bench: %s: %s\n", name, c->error);
            return -1;
        }
        c->owner = r;
        c->index = i;
        c->on_msg = o->mode == BENCH_MODE_QUEUE ? on_msg_queue : on_msg_ordered;
        int rc = o->mode == BENCH_MODE_QUEUE ? bench_conn_ctl(c, "SUB %s q 1\r\n", o->subject)
                                             : bench_conn_ctl(c, "SUB %s 1\r\n", o->subject);
        if (rc != 0 || bench_conn_sync(c, o->timeout_s) != 0) {
            fprintf(stderr, "bench: %s: %s\n", name, c->error);
            return -1;
        }
    }
    return 0;
}

/* Gives the receivers' interest time to reach a publisher on another
 * server (a leaf and its hub). */
static int settle(const bench_opts *o)
{
    if (o->settle_s > 0) {
        struct timespec ts = {(time_t)o->settle_s,
                              (long)((o->settle_s - (double)(time_t)o->settle_s) * 1e9)};
        nanosleep(&ts, NULL);
    }
    return 0;
}

static int open_publisher(run *r)
{
    bench_conn *p = &r->pub;
    if (bench_conn_open(p, r->o->host, r->o->port, "pub", r->o->timeout_s) != 0 ||
        bench_conn_sync(p, r->o->timeout_s) != 0) {
        fprintf(stderr, "bench: pub: %s\n", p->error);
        return -1;
    }
    if (p->max_payload >= 0 && r->o->size_bytes > (size_t)p->max_payload) {
        fprintf(stderr, "bench: --size %zu exceeds the server's max_payload %ld\n",
                r->o->size_bytes, p->max_payload);
        return -1;
    }
    p->owner = r;
    p->on_msg = on_msg_unexpected;
    p->on_pong = on_pong_pub;
    return 0;
}

static void handle_events(run *r, struct epoll_event *ev, int n)
{
    for (int i = 0; i < n; i++) {
        bench_conn *c = ev[i].data.ptr;
        if ((ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
            bench_conn_read(c);
        }
        if ((ev[i].events & EPOLLOUT) != 0) {
            int f = bench_conn_flush(c);
            if (f > 0) {
                bench_conn_want_write(c, false);
            }
        }
    }
}

/* Completion (every receiver has everything) stops the clock; the drain
 * phases start as soon as publishing ends, so a lost message is known once the
 * PONGs are back instead of after the stall timeout. A PONG to the publisher
 * means the server has routed everything before it; a PONG to a receiver
 * then means everything routed to it has arrived. */
static void advance(run *r, uint64_t now)
{
    if (r->bad) {
        r->pub_done = true;
    }
    if (r->t_end == 0 && r->pub_done && run_acked(r) >= r->sent) {
        r->t_end = now;
        getrusage(RUSAGE_SELF, &r->ru_end);
    }
    if (r->phase == PHASE_PUBLISH) {
        if (!r->pub_done) {
            return;
        }
        /* pub mode: the PINGs of earlier batches are answered first. */
        r->pub_pongs_want = r->pub.pongs + r->ring_count + 1;
        if (pub_ping(r) != 0) {
            return;
        }
        r->phase = PHASE_DRAIN_PUB;
    }
    if (r->phase == PHASE_DRAIN_PUB) {
        if (r->pub.pongs < r->pub_pongs_want) {
            return;
        }
        for (int i = 0; i < r->nsubs; i++) {
            bench_conn *c = &r->subs[i];
            r->sub_pongs_want[i] = c->pongs + 1;
            if (bench_conn_ctl(c, "PING\r\n") == 0 && bench_conn_flush(c) == 0) {
                bench_conn_want_write(c, true);
            }
        }
        r->phase = PHASE_DRAIN_SUBS;
    }
    if (r->phase == PHASE_DRAIN_SUBS) {
        for (int i = 0; i < r->nsubs; i++) {
            if (r->subs[i].pongs < r->sub_pongs_want[i]) {
                return;
            }
        }
        /* Receivers on another server (--sub-port): their PONGs do not
         * cover messages still crossing the link between the servers, so
         * wait for everything (the stall timeout bounds the wait). */
        if (r->o->sub_port != 0 && run_acked(r) < r->sent) {
            return;
        }
        r->phase = PHASE_DONE;
    }
}

static bool any_conn_failed(run *r)
{
    bool failed = false;
    if (r->pub.failed) {
        run_error(r, "%s: %s", r->pub.name, r->pub.error);
        failed = true;
    }
    for (int i = 0; i < r->nsubs; i++) {
        if (r->subs[i].failed) {
            run_error(r, "%s: %s", r->subs[i].name, r->subs[i].error);
            failed = true;
        }
    }
    return failed;
}

static void stall_error(run *r, double seconds)
{
    char got[160] = "";
    size_t o = 0;
    for (int i = 0; i < r->nsubs && i < 8 && o < sizeof(got); i++) {
        int n = snprintf(got + o, sizeof(got) - o, "%s%llu", i > 0 ? "," : "",
                         (unsigned long long)r->subs[i].msgs);
        o += n > 0 ? (size_t)n : 0;
    }
    run_error(r, "stalled for %.1f s: sent %llu, acknowledged %llu, receivers got [%s]", seconds,
              (unsigned long long)r->sent, (unsigned long long)run_acked(r), got);
}

/* Bounded in time: the publishing time (or 600 s for a count), then the
 * stall timeout; in count: one pump of at most 16 batches per turn. */
static void run_loop(run *r)
{
    const bench_opts *o = r->o;
    uint64_t warmup_ns = (uint64_t)(o->warmup_s * 1e9);
    uint64_t timeout_ns = (uint64_t)(o->timeout_s * 1e9);
    struct epoll_event ev[EVENTS_MAX];
    r->t0 = bench_now_ns();
    r->t_stop_ns = r->t0 + warmup_ns + (uint64_t)(o->duration_s * 1e9);
    uint64_t hard_stop_ns = (o->count > 0 ? r->t0 + 600000000000ull : r->t_stop_ns) + timeout_ns;
    run_snapshot(r, r->t0);
    r->snapped = warmup_ns == 0;
    uint64_t last_progress = r->t0;
    while (r->phase != PHASE_DONE) {
        int more = pub_pump(r);
        if (more < 0 || any_conn_failed(r)) {
            break;
        }
        uint64_t now = bench_now_ns();
        if (!r->snapped && now >= r->t0 + warmup_ns && r->phase == PHASE_PUBLISH) {
            run_snapshot(r, now);
            r->snapped = true;
        }
        advance(r, now);
        if (r->phase == PHASE_DONE || any_conn_failed(r)) {
            break;
        }
        if (now - last_progress > timeout_ns || now > hard_stop_ns) {
            stall_error(r, (double)(now - last_progress) * 1e-9);
            break;
        }
        int wait_ms = more > 0 || o->spin ? 0 : 50;
        if (wait_ms > 0 && !r->pub_done && o->count == 0) {
            uint64_t left_ms = now < r->t_stop_ns ? (r->t_stop_ns - now) / 1000000u : 0;
            wait_ms = left_ms < 50 ? (int)left_ms + 1 : 50;
        }
        int n = epoll_wait(r->ep, ev, EVENTS_MAX, wait_ms);
        if (n < 0 && errno != EINTR) {
            run_error(r, "epoll_wait: %s", strerror(errno));
            break;
        }
        if (n > 0) {
            handle_events(r, ev, n);
            last_progress = bench_now_ns();
        }
    }
    if (r->t_end == 0) {
        r->t_end = bench_now_ns();
        getrusage(RUSAGE_SELF, &r->ru_end);
    }
}

/* Final accounting: every receiver got every message once. */
static void account(run *r, uint64_t *lost, uint64_t *extra)
{
    *lost = 0;
    *extra = 0;
    if (r->o->mode == BENCH_MODE_PUB) {
        if (r->acked < r->sent) {
            run_error(r, "server acknowledged %llu of %llu messages", (unsigned long long)r->acked,
                      (unsigned long long)r->sent);
        }
        return;
    }
    if (r->o->mode == BENCH_MODE_QUEUE) {
        *lost = r->delivered < r->sent ? r->sent - r->delivered : 0;
        *extra = r->delivered > r->sent ? r->delivered - r->sent : 0;
    } else {
        for (int i = 0; i < r->nsubs; i++) {
            uint64_t got = r->subs[i].msgs;
            *lost += got < r->sent ? r->sent - got : 0;
            *extra += got > r->sent ? got - r->sent : 0;
        }
    }
    if (*lost > 0) {
        run_error(r, "lost %llu messages", (unsigned long long)*lost);
    }
    if (*extra > 0) {
        run_error(r, "%llu extra deliveries", (unsigned long long)*extra);
    }
}

static int report_throughput(run *r)
{
    const bench_opts *o = r->o;
    uint64_t lost, extra;
    account(r, &lost, &extra);
    bool ok = !r->bad;
    double elapsed_s = (double)(r->t_end - r->t_snap) * 1e-9;
    uint64_t pub_end = o->mode == BENCH_MODE_PUB ? r->acked : r->sent;
    double pub_rate = elapsed_s > 0 ? (double)(pub_end - r->snap_sent) / elapsed_s : 0;
    double del_rate = elapsed_s > 0 ? (double)(r->delivered - r->snap_delivered) / elapsed_s : 0;
    double client_cpu = elapsed_s > 0 ? (cpu_s(&r->ru_end) - cpu_s(&r->ru_snap)) / elapsed_s : 0;
    const char *mode = bench_mode_name(o->mode);
    if (!o->quiet) {
        char a[32], b[32], c[32], d[32];
        printf("%-7s %4s %6s %7s %12s %12s %7s %12s %14s %9s %6s  %s\n", "mode", "subs", "size",
               "window", "sent", "delivered", "time_s", "pub_msg/s", "deliver_msg/s", "deliv_MB/s",
               "client", "result");
        if (ok) {
            printf("%-7s %4d %6zu %7llu %12s %12s %7.3f %12s %14s %9.1f %5.0f%%  ok\n", mode,
                   r->nsubs, o->size_bytes, (unsigned long long)o->window,
                   fmt_count(a, sizeof(a), (double)r->sent),
                   fmt_count(b, sizeof(b), (double)r->delivered), elapsed_s,
                   fmt_count(c, sizeof(c), pub_rate), fmt_count(d, sizeof(d), del_rate),
                   del_rate * (double)o->size_bytes / 1e6, client_cpu * 100);
        } else {
            printf("%-7s %4d %6zu %7llu %12s %12s %7s %12s %14s %9s %6s  FAILED: %s\n", mode,
                   r->nsubs, o->size_bytes, (unsigned long long)o->window,
                   fmt_count(a, sizeof(a), (double)r->sent),
                   fmt_count(b, sizeof(b), (double)r->delivered), "-", "-", "-", "-", "-",
                   r->first_error);
        }
    }
    printf("BENCH mode=%s subs=%d size=%zu window=%llu msgs=%llu delivered=%llu", mode, r->nsubs,
           o->size_bytes, (unsigned long long)o->window, (unsigned long long)r->sent,
           (unsigned long long)r->delivered);
    if (ok) {
        printf(" elapsed_ns=%llu pub_rate=%.0f deliver_rate=%.0f client_cpu=%.3f cpu_s=%.3f ok=1\n",
               (unsigned long long)(r->t_end - r->t_snap), pub_rate, del_rate, client_cpu,
               process_cpu_s());
    } else {
        printf(" lost=%llu extra=%llu reordered=%llu duplicates=%llu ok=0 error=\"%s\"\n",
               (unsigned long long)lost, (unsigned long long)extra,
               (unsigned long long)r->reordered, (unsigned long long)r->duplicates, r->first_error);
    }
    fflush(stdout);
    return ok ? 0 : 1;
}

static run *run_new(const bench_opts *o, int nsubs)
{
    run *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    r->o = o;
    r->ep = -1;
    r->pub.fd = -1;
    r->nsubs = nsubs;
    r->subs = calloc((size_t)(nsubs > 0 ? nsubs : 1), sizeof(bench_conn));
    r->sub_pongs_want = calloc((size_t)(nsubs > 0 ? nsubs : 1), sizeof(uint64_t));
    if (r->subs == NULL || r->sub_pongs_want == NULL) {
        free(r->subs);
        free(r->sub_pongs_want);
        free(r);
        return NULL;
    }
    for (int i = 0; i < nsubs; i++) {
        r->subs[i].fd = -1;
    }
    seq_setup(r, o->size_bytes);
    return r;
}

static void run_free(run *r)
{
    bench_conn_close(&r->pub);
    for (int i = 0; i < r->nsubs; i++) {
        bench_conn_close(&r->subs[i]);
    }
    if (r->ep >= 0) {
        close(r->ep);
    }
    free(r->subs);
    free(r->sub_pongs_want);
    free(r->slots);
    free(r->seen);
    free(r->resp);
    free(r);
}

static int watch_all(run *r)
{
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    if (r->ep < 0 || bench_conn_watch(&r->pub, r->ep) != 0) {
        return -1;
    }
    for (int i = 0; i < r->nsubs; i++) {
        if (bench_conn_watch(&r->subs[i], r->ep) != 0) {
            return -1;
        }
    }
    return 0;
}

int bench_run_throughput(const bench_opts *o)
{
    int nsubs = o->mode == BENCH_MODE_PUB ? 0 : (o->mode == BENCH_MODE_PUBSUB ? 1 : o->subs);
    run *r = run_new(o, nsubs);
    if (r == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        return 2;
    }
    int rc = 2;
    if (slots_build(r, o->subject, NULL, o->batch_bytes) != 0 || open_receivers(r) != 0 ||
        settle(o) != 0 || open_publisher(r) != 0 || watch_all(r) != 0) {
        goto out;
    }
    run_loop(r);
    rc = report_throughput(r);
out:
    run_free(r);
    return rc;
}

/* ---- request/reply ------------------------------------------------------ */

/* The responder answers from the prebuilt payload with the request's
 * sequence number copied in, so a request is never copied whole. */
static void on_msg_responder(bench_conn *c, const char *reply, size_t reply_len,
                             const unsigned char *payload, size_t avail, size_t size)
{
    run *r = c->owner;
    if (reply == NULL || reply_len > BENCH_LINE_MAX_BYTES / 2) {
        run_error(r, "responder: request without a usable reply subject");
        return;
    }
    if (size != r->o->size_bytes) {
        run_error(r, "responder: request of %zu bytes, sent %zu", size, r->o->size_bytes);
        return;
    }
    if (c->bulk_off < c->bulk_len) {
        run_error(r, "responder: a second request while a reply is pending");
        return;
    }
    int h =
        snprintf(r->resp, BENCH_LINE_MAX_BYTES, "PUB %.*s %zu\r\n", (int)reply_len, reply, size);
    memcpy(r->resp + h, r->slots + r->hdr_len, size);
    memcpy(r->resp + h, payload, r->seq_bytes);
    memcpy(r->resp + h + size, "\r\n", 2);
    c->bulk = r->resp;
    c->bulk_len = (size_t)h + size + 2;
    c->bulk_off = 0;
    if (bench_conn_flush(c) == 0) {
        bench_conn_want_write(c, true);
    }
}

static void on_msg_requester(bench_conn *c, const char *reply, size_t reply_len,
                             const unsigned char *payload, size_t avail, size_t size)
{
    run *r = c->owner;
    uint64_t now = bench_now_ns();
    r->delivered++;
    if (size != r->o->size_bytes) {
        run_error(r, "requester: reply of %zu bytes, sent %zu", size, r->o->size_bytes);
        return;
    }
    uint64_t seq = r->seq_bytes > 0 ? bench_seq_get(payload, r->seq_bytes) : r->req_seq;
    if (((seq ^ r->req_seq) & r->seq_mask) != 0 || r->got) {
        r->reordered++;
        run_error(r, "requester: reply with seq %llu while waiting for %llu",
                  (unsigned long long)seq, (unsigned long long)r->req_seq);
        return;
    }
    r->got = true;
    r->t_recv = now;
}

static int rr_open(run *r)
{
    const bench_opts *o = r->o;
    char req_subject[300], inbox[64];
    snprintf(req_subject, sizeof(req_subject), "%s.req", o->subject);
    snprintf(inbox, sizeof(inbox), "_INBOX.bench.%ld", (long)getpid());
    r->resp = malloc(BENCH_LINE_MAX_BYTES + o->size_bytes + 2);
    if (r->resp == NULL || slots_build(r, req_subject, inbox, 0) != 0) {
        return -1;
    }
    bench_conn *resp = &r->subs[0];
    if (bench_conn_open(resp, o->host, o->sub_port != 0 ? o->sub_port : o->port, "responder",
                        o->timeout_s) != 0 ||
        bench_conn_ctl(resp, "SUB %s 1\r\n", req_subject) != 0 ||
        bench_conn_sync(resp, o->timeout_s) != 0) {
        fprintf(stderr, "bench: responder: %s\n", resp->error);
        return -1;
    }
    resp->owner = r;
    resp->on_msg = on_msg_responder;
    bench_conn *req = &r->pub;
    if (bench_conn_open(req, o->host, o->port, "requester", o->timeout_s) != 0 ||
        bench_conn_ctl(req, "SUB %s 1\r\n", inbox) != 0 ||
        bench_conn_sync(req, o->timeout_s) != 0) {
        fprintf(stderr, "bench: requester: %s\n", req->error);
        return -1;
    }
    if (req->max_payload >= 0 && o->size_bytes > (size_t)req->max_payload) {
        fprintf(stderr, "bench: --size %zu exceeds the server's max_payload %ld\n", o->size_bytes,
                req->max_payload);
        return -1;
    }
    req->owner = r;
    req->on_msg = on_msg_requester;
    return watch_all(r);
}

static int rr_send(run *r)
{
    bench_conn *req = &r->pub;
    r->req_seq++;
    r->sent++;
    r->got = false;
    bench_seq_put((unsigned char *)r->slots + r->hdr_len, r->seq_bytes, r->req_seq);
    req->bulk = r->slots;
    req->bulk_len = r->slot_len;
    req->bulk_off = 0;
    int f = bench_conn_flush(req);
    return f < 0 ? -1 : bench_conn_want_write(req, f == 0);
}

static int lat_push(uint64_t **lat, uint64_t *n, uint64_t *cap, uint64_t v)
{
    if (*n == *cap) {
        uint64_t grown = *cap > 0 ? *cap * 2 : 65536;
        uint64_t *p = realloc(*lat, grown * sizeof(uint64_t));
        if (p == NULL) {
            return -1;
        }
        *lat = p;
        *cap = grown;
    }
    (*lat)[(*n)++] = v;
    return 0;
}

/* One request outstanding at a time. Bounded by the count (or duration)
 * and, per request, by the stall timeout. */
static void rr_loop(run *r, uint64_t **lat, uint64_t *nlat)
{
    const bench_opts *o = r->o;
    uint64_t warmup_ns = (uint64_t)(o->warmup_s * 1e9);
    uint64_t duration_ns = (uint64_t)(o->duration_s * 1e9);
    uint64_t timeout_ns = (uint64_t)(o->timeout_s * 1e9);
    uint64_t cap = 0, t_send = 0;
    struct epoll_event ev[8];
    bool outstanding = false;
    r->t0 = bench_now_ns();
    r->snapped = warmup_ns == 0;
    run_snapshot(r, r->t0);
    uint64_t now = r->t0;
    for (;;) {
        if (!outstanding) {
            if (!r->snapped && now >= r->t0 + warmup_ns) {
                run_snapshot(r, now);
                r->snapped = true;
            }
            if (r->snapped && (o->count > 0 ? *nlat >= o->count : now >= r->t_snap + duration_ns)) {
                break;
            }
            t_send = bench_now_ns();
            if (rr_send(r) != 0) {
                break;
            }
            outstanding = true;
        }
        int n = epoll_wait(r->ep, ev, 8, o->spin ? 0 : 50);
        if (n < 0 && errno != EINTR) {
            run_error(r, "epoll_wait: %s", strerror(errno));
            break;
        }
        handle_events(r, ev, n > 0 ? n : 0);
        now = bench_now_ns();
        if (any_conn_failed(r) || r->bad) {
            break;
        }
        if (r->got) {
            if (r->snapped && lat_push(lat, nlat, &cap, r->t_recv - t_send) != 0) {
                run_error(r, "out of memory for latencies");
                break;
            }
            outstanding = false;
        } else if (now - t_send > timeout_ns) {
            run_error(r, "no reply to request %llu within %.1f s", (unsigned long long)r->req_seq,
                      o->timeout_s);
            break;
        }
    }
    r->t_end = bench_now_ns();
    getrusage(RUSAGE_SELF, &r->ru_end);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least q of all samples at or below it. */
static uint64_t percentile(const uint64_t *sorted, uint64_t n, double q)
{
    uint64_t rank = (uint64_t)ceil(q * (double)n);
    return sorted[rank > 0 ? rank - 1 : 0];
}

static int report_reqrep(run *r, uint64_t *lat, uint64_t n)
{
    const bench_opts *o = r->o;
    if (!r->bad && n == 0) {
        run_error(r, "no request completed");
    }
    bool ok = !r->bad;
    double elapsed_s = (double)(r->t_end - r->t_snap) * 1e-9;
    double client_cpu = elapsed_s > 0 ? (cpu_s(&r->ru_end) - cpu_s(&r->ru_snap)) / elapsed_s : 0;
    uint64_t p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0;
    double mean = 0;
    if (ok) {
        qsort(lat, (size_t)n, sizeof(uint64_t), cmp_u64);
        p50 = percentile(lat, n, 0.50);
        p90 = percentile(lat, n, 0.90);
        p99 = percentile(lat, n, 0.99);
        p999 = percentile(lat, n, 0.999);
        max = lat[n - 1];
        for (uint64_t i = 0; i < n; i++) {
            mean += (double)lat[i];
        }
        mean /= (double)n;
    }
    if (!o->quiet) {
        printf("%-7s %6s %9s %7s %9s %8s %8s %8s %9s %8s %8s %6s  %s\n", "mode", "size", "requests",
               "time_s", "req/s", "p50_us", "p90_us", "p99_us", "p99.9_us", "max_us", "mean_us",
               "client", "result");
        if (ok) {
            printf("%-7s %6zu %9llu %7.3f %9.0f %8.1f %8.1f %8.1f %9.1f %8.1f %8.1f %5.0f%%  ok\n",
                   "reqrep", o->size_bytes, (unsigned long long)n, elapsed_s, (double)n / elapsed_s,
                   (double)p50 / 1e3, (double)p90 / 1e3, (double)p99 / 1e3, (double)p999 / 1e3,
                   (double)max / 1e3, mean / 1e3, client_cpu * 100);
        } else {
            printf("%-7s %6zu %9llu %7s %9s %8s %8s %8s %9s %8s %8s %6s  FAILED: %s\n", "reqrep",
                   o->size_bytes, (unsigned long long)n, "-", "-", "-", "-", "-", "-", "-", "-",
                   "-", r->first_error);
        }
    }
    printf("BENCH mode=reqrep subs=1 size=%zu msgs=%llu delivered=%llu", o->size_bytes,
           (unsigned long long)r->sent, (unsigned long long)r->delivered);
    if (ok) {
        printf(" requests=%llu elapsed_ns=%llu rate=%.0f p50_ns=%llu p90_ns=%llu p99_ns=%llu "
               "p999_ns=%llu max_ns=%llu mean_ns=%.0f client_cpu=%.3f cpu_s=%.3f ok=1\n",
               (unsigned long long)n, (unsigned long long)(r->t_end - r->t_snap),
               (double)n / elapsed_s, (unsigned long long)p50, (unsigned long long)p90,
               (unsigned long long)p99, (unsigned long long)p999, (unsigned long long)max, mean,
               client_cpu, process_cpu_s());
    } else {
        printf(" ok=0 error=\"%s\"\n", r->first_error);
    }
    fflush(stdout);
    return ok ? 0 : 1;
}

int bench_run_reqrep(const bench_opts *o)
{
    run *r = run_new(o, 1);
    if (r == NULL) {
        fprintf(stderr, "bench: out of memory\n");
        return 2;
    }
    int rc = 2;
    uint64_t *lat = NULL, n = 0;
    if (rr_open(r) == 0) {
        rr_loop(r, &lat, &n);
        rc = report_reqrep(r, lat, n);
    }
    free(lat);
    run_free(r);
    return rc;
}
