/* tools/bench: MQTT 3.1.1 modes, against any MQTT broker (natsedge,
 * nats-server's `mqtt {}`, mosquitto).
 *
 *   bench mqtt [K]       one publisher, K subscribers (1 by default) of one
 *                        topic, at --qos 0, 1 or 2 both ways; publish ->
 *                        deliver throughput and latency
 *   bench mqtt-idle      --conns N connections that connect (keep-alive
 *                        --keepalive) and stay idle for --hold seconds
 *
 * Throughput: the publisher writes batches of PUBLISH packets with one
 * write; it stays at most --window messages ahead of the slowest
 * subscriber and of its own acknowledgements (an MQTT broker keeps a
 * bounded queue per session, natsedge NE_MQTT_MAX_INFLIGHT, and mosquitto
 * drops a QoS 2 publish beyond max_inflight_messages: a publisher further
 * ahead loses messages by design, and the run fails). Subscribers
 * acknowledge at once (PUBACK; PUBREC, then PUBCOMP for PUBREL). Every
 * payload starts with the sequence number and, from 16 bytes, the time it
 * was written: each subscriber must see 1, 2, 3, ... exactly, and latency
 * is the time from the publisher's write to the subscriber's read (client
 * batching and the broker's queue included; run
 * with --window 1 for latency without load). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define MQ_RBUF_BYTES (256u * 1024u)
#define MQ_ACK_BUF_BYTES (64u * 1024u)
#define MQ_EVENTS_MAX 64
/* Latency histogram: 8 buckets per power of two from 1 ns (about 9 %). */
#define MQ_HIST_SUB 8
#define MQ_HIST_BUCKETS (64 * MQ_HIST_SUB)

typedef struct mq_conn {
    int fd;
    int index;
    char name[32];
    unsigned char *rbuf;
    size_t rlen;
    unsigned char *wbuf; /* acks (subscribers) or batches (publisher) */
    size_t wcap;
    size_t wlen;
    size_t woff;
    bool epollout;
    uint64_t msgs;
    uint64_t last_seq;
    char error[200];
} mq_conn;

typedef struct mq_run {
    const bench_opts *o;
    int ep;
    mq_conn pub;
    mq_conn *subs;
    int nsubs;
    size_t topic_len;
    unsigned char *payload; /* the template: seq and time written per message */
    uint64_t sent;
    uint64_t acked; /* QoS 1: PUBACK; QoS 2: PUBCOMP */
    uint64_t delivered;
    uint64_t hist[MQ_HIST_BUCKETS];
    uint64_t samples;
    bool bad;
    char first_error[256];
    uint64_t t0;
    uint64_t t_end;
    struct rusage ru0;
    struct rusage ru1;
} mq_run;

static void mq_error(mq_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mq_error(mq_run *r, const char *fmt, ...)
{
    if (!r->bad) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->first_error, sizeof(r->first_error), fmt, ap);
        va_end(ap);
    }
    r->bad = true;
}

static double ru_cpu_s(const struct rusage *ru)
{
    return (double)ru->ru_utime.tv_sec + (double)ru->ru_utime.tv_usec * 1e-6 +
           (double)ru->ru_stime.tv_sec + (double)ru->ru_stime.tv_usec * 1e-6;
}

/* ---- Encoding ------------------------------------------------------------------- */

static size_t put_vbi(unsigned char *p, size_t n)
{
    size_t i = 0;
    do {
        unsigned char b = (unsigned char)(n % 128);
        n /= 128;
        p[i++] = (unsigned char)(n > 0 ? b | 0x80 : b);
    } while (n > 0 && i < 4);
    return i;
}

static size_t put_str(unsigned char *p, const char *s, size_t n)
{
    p[0] = (unsigned char)(n >> 8);
    p[1] = (unsigned char)n;
    memcpy(p + 2, s, n);
    return n + 2;
}

static size_t connect_packet(unsigned char *p, const char *client_id, int keepalive)
{
    size_t id_len = strlen(client_id);
    unsigned char body[256];
    size_t n = put_str(body, "MQTT", 4);
    body[n++] = 4;    /* 3.1.1 */
    body[n++] = 0x02; /* clean session */
    body[n++] = (unsigned char)(keepalive >> 8);
    body[n++] = (unsigned char)keepalive;
    n += put_str(body + n, client_id, id_len);
    p[0] = 0x10;
    size_t h = 1 + put_vbi(p + 1, n);
    memcpy(p + h, body, n);
    return h + n;
}

/* ---- Blocking setup ---------------------------------------------------------------- */

static int tcp_open(const char *host, int port, bool nonblock, char *err, size_t err_cap)
{
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0) {
        snprintf(err, err_cap, "%s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = socket(ai->ai_family, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) {
        snprintf(err, err_cap, "socket: %s", strerror(errno));
        freeaddrinfo(ai);
        return -1;
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && !(nonblock && errno == EINPROGRESS)) {
        snprintf(err, err_cap, "connect %s:%d: %s", host, port, strerror(errno));
        freeaddrinfo(ai);
        close(fd);
        return -1;
    }
    freeaddrinfo(ai);
    return fd;
}

/* Reads exactly `n` bytes within the deadline. */
static int read_full(int fd, unsigned char *p, size_t n, uint64_t deadline)
{
    size_t got = 0;
    while (got < n) {
        uint64_t now = bench_now_ns();
        if (now >= deadline) {
            return -1;
        }
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int ms = (int)((deadline - now) / 1000000u) + 1;
        if (poll(&pfd, 1, ms) <= 0) {
            continue;
        }
        ssize_t k = read(fd, p + got, n - got);
        if (k <= 0) {
            return -1;
        }
        got += (size_t)k;
    }
    return 0;
}

static int write_full(int fd, const unsigned char *p, size_t n)
{
    size_t off = 0;
    while (off < n) {
        ssize_t k = write(fd, p + off, n - off);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            return -1;
        }
        off += (size_t)k;
    }
    return 0;
}

/* Connects, sends CONNECT and reads a successful CONNACK. */
static int mq_open(mq_conn *c, const bench_opts *o, const char *name, int keepalive)
{
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->fd = tcp_open(o->host, o->port, false, c->error, sizeof(c->error));
    if (c->fd < 0) {
        return -1;
    }
    char id[64];
    snprintf(id, sizeof(id), "bench-%ld-%s", (long)getpid(), name);
    unsigned char pkt[300];
    size_t n = connect_packet(pkt, id, keepalive);
    unsigned char ack[4];
    uint64_t deadline = bench_now_ns() + (uint64_t)(o->timeout_s * 1e9);
    if (write_full(c->fd, pkt, n) != 0 || read_full(c->fd, ack, 4, deadline) != 0) {
        snprintf(c->error, sizeof(c->error), "no CONNACK");
        return -1;
    }
    if (ack[0] != 0x20 || ack[1] != 2 || ack[3] != 0) {
        snprintf(c->error, sizeof(c->error), "CONNACK %02x %02x %02x %02x", ack[0], ack[1], ack[2],
                 ack[3]);
        return -1;
    }
    return 0;
}

static int mq_subscribe(mq_conn *c, const bench_opts *o)
{
    size_t tlen = strlen(o->subject);
    unsigned char pkt[300];
    size_t body = 2 + 2 + tlen + 1;
    size_t n = 0;
    pkt[n++] = 0x82;
    n += put_vbi(pkt + n, body);
    pkt[n++] = 0;
    pkt[n++] = 1; /* packet id */
    n += put_str(pkt + n, o->subject, tlen);
    pkt[n++] = (unsigned char)o->qos;
    unsigned char ack[5];
    uint64_t deadline = bench_now_ns() + (uint64_t)(o->timeout_s * 1e9);
    if (write_full(c->fd, pkt, n) != 0 || read_full(c->fd, ack, 5, deadline) != 0) {
        snprintf(c->error, sizeof(c->error), "no SUBACK");
        return -1;
    }
    if (ack[0] != 0x90 || ack[4] != (unsigned char)o->qos) {
        snprintf(c->error, sizeof(c->error), "SUBACK %02x ... granted %02x for QoS %d", ack[0],
                 ack[4], o->qos);
        return -1;
    }
    return 0;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ---- The loop ---------------------------------------------------------------------- */

static void watch(mq_run *r, mq_conn *c, bool out)
{
    struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
    (void)epoll_ctl(r->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->epollout = out;
}

/* 1: everything written; 0: would block; -1: error. */
static int flush(mq_run *r, mq_conn *c)
{
    while (c->woff < c->wlen) {
        ssize_t k = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->epollout) {
                watch(r, c, true);
            }
            return 0;
        }
        if (k <= 0) {
            mq_error(r, "%s: write: %s", c->name, strerror(errno));
            return -1;
        }
        c->woff += (size_t)k;
    }
    c->wlen = 0;
    c->woff = 0;
    if (c->epollout) {
        watch(r, c, false);
    }
    return 1;
}

static void queue_ack(mq_run *r, mq_conn *c, unsigned char type, unsigned pid)
{
    if (c->wlen + 4 > c->wcap) {
        if (flush(r, c) < 0 || c->wlen + 4 > c->wcap) {
            mq_error(r, "%s: acknowledgements backed up", c->name);
            return;
        }
    }
    unsigned char *p = c->wbuf + c->wlen;
    p[0] = type;
    p[1] = 2;
    p[2] = (unsigned char)(pid >> 8);
    p[3] = (unsigned char)pid;
    c->wlen += 4;
}

static void record_latency(mq_run *r, uint64_t ns)
{
    if (ns == 0) {
        ns = 1;
    }
    int e = 63 - __builtin_clzll(ns);
    int sub = e >= 3 ? (int)((ns >> (e - 3)) & 7) : (int)((ns << (3 - e)) & 7);
    int b = e * MQ_HIST_SUB + sub;
    r->hist[b < MQ_HIST_BUCKETS ? b : MQ_HIST_BUCKETS - 1]++;
    r->samples++;
}

/* The upper bound of the bucket holding the q-quantile, in ns. */
static double quantile_ns(const mq_run *r, double q)
{
    if (r->samples == 0) {
        return 0;
    }
    uint64_t want = (uint64_t)ceil(q * (double)r->samples), seen = 0;
    for (int b = 0; b < MQ_HIST_BUCKETS; b++) {
        seen += r->hist[b];
        if (seen >= want) {
            int e = b / MQ_HIST_SUB, sub = b % MQ_HIST_SUB;
            return ldexp(1.0 + (double)(sub + 1) / MQ_HIST_SUB, e);
        }
    }
    return 0;
}

static void on_publish(mq_run *r, mq_conn *c, unsigned char flags, const unsigned char *v,
                       size_t len)
{
    int qos = (flags >> 1) & 3;
    if (len < 2) {
        mq_error(r, "%s: short PUBLISH", c->name);
        return;
    }
    size_t tl = ((size_t)v[0] << 8) | v[1];
    size_t pos = 2 + tl + (qos > 0 ? 2 : 0);
    if (pos > len) {
        mq_error(r, "%s: short PUBLISH", c->name);
        return;
    }
    unsigned pid = qos > 0 ? ((unsigned)v[2 + tl] << 8) | v[3 + tl] : 0;
    const unsigned char *payload = v + pos;
    size_t plen = len - pos;
    if (plen != r->o->size_bytes) {
        mq_error(r, "%s: payload of %zu bytes, not %zu", c->name, plen, r->o->size_bytes);
        return;
    }
    size_t sb = plen < 8 ? plen : 8;
    uint64_t mask = sb >= 8 ? UINT64_MAX : ((uint64_t)1 << (8 * sb)) - 1;
    uint64_t seq = bench_seq_get(payload, sb);
    if (seq != ((c->last_seq + 1) & mask)) {
        mq_error(r, "%s: got message %llu after %llu", c->name, (unsigned long long)seq,
                 (unsigned long long)c->last_seq);
    }
    c->last_seq = c->last_seq + 1;
    c->msgs++;
    r->delivered++;
    if (plen >= 16) {
        uint64_t t = bench_seq_get(payload + 8, 8);
        uint64_t now = bench_now_ns();
        record_latency(r, now > t ? now - t : 0);
    }
    if (qos == 1) {
        queue_ack(r, c, 0x40, pid);
    } else if (qos == 2) {
        queue_ack(r, c, 0x50, pid);
    }
}

/* Parses what `c` has read: PUBLISH and PUBREL at subscribers, PUBACK,
 * PUBREC and PUBCOMP at the publisher. */
static void parse(mq_run *r, mq_conn *c)
{
    size_t pos = 0;
    while (pos + 2 <= c->rlen && !r->bad) {
        size_t rl = 0, i = 1, mul = 1;
        bool done = false;
        while (i < 5 && pos + i < c->rlen) {
            unsigned char b = c->rbuf[pos + i];
            rl += (size_t)(b & 0x7f) * mul;
            mul *= 128;
            i++;
            if ((b & 0x80) == 0) {
                done = true;
                break;
            }
        }
        if (!done) {
            if (i >= 5) {
                mq_error(r, "%s: bad remaining length", c->name);
            }
            break;
        }
        if (i + rl > MQ_RBUF_BYTES) {
            mq_error(r, "%s: packet of %zu bytes", c->name, rl);
            break;
        }
        if (pos + i + rl > c->rlen) {
            break;
        }
        unsigned char type = c->rbuf[pos];
        const unsigned char *v = c->rbuf + pos + i;
        unsigned pid = rl >= 2 ? ((unsigned)v[0] << 8) | v[1] : 0;
        switch (type >> 4) {
        case 3:
            on_publish(r, c, type & 0x0f, v, rl);
            break;
        case 4: /* PUBACK */
        case 7: /* PUBCOMP */
            r->acked++;
            break;
        case 5: /* PUBREC */
            queue_ack(r, c, 0x62, pid);
            break;
        case 6: /* PUBREL */
            queue_ack(r, c, 0x70, pid);
            break;
        case 13: /* PINGRESP */
            break;
        default:
            mq_error(r, "%s: unexpected packet type %u", c->name, (unsigned)(type >> 4));
            break;
        }
        pos += i + rl;
    }
    memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
    c->rlen -= pos;
}

static void on_readable(mq_run *r, mq_conn *c)
{
    for (int rounds = 0; rounds < 16; rounds++) {
        ssize_t k = read(c->fd, c->rbuf + c->rlen, MQ_RBUF_BYTES - c->rlen);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        if (k <= 0) {
            mq_error(r, "%s: the broker closed the connection", c->name);
            return;
        }
        c->rlen += (size_t)k;
        parse(r, c);
        if ((size_t)k < MQ_RBUF_BYTES / 2) {
            break;
        }
    }
    if (c->wlen > 0) {
        (void)flush(r, c);
    }
}

static uint64_t slowest(const mq_run *r)
{
    uint64_t m = UINT64_MAX;
    for (int i = 0; i < r->nsubs; i++) {
        m = r->subs[i].msgs < m ? r->subs[i].msgs : m;
    }
    return m;
}

/* Fills the publisher's buffer with the next batch, as far as the window
 * allows. */
static void fill_batch(mq_run *r)
{
    const bench_opts *o = r->o;
    mq_conn *p = &r->pub;
    uint64_t floor = slowest(r);
    if (o->qos > 0 && r->acked < floor) {
        floor = r->acked;
    }
    size_t plen = o->size_bytes;
    size_t rl = 2 + r->topic_len + (o->qos > 0 ? 2 : 0) + plen;
    size_t pkt = 1 + (rl < 128 ? 1 : rl < 16384 ? 2 : rl < 2097152 ? 3 : 4) + rl;
    uint64_t now = bench_now_ns();
    size_t sb = plen < 8 ? plen : 8;
    while (r->sent < o->count && r->sent - floor < o->window && p->wlen + pkt <= p->wcap) {
        unsigned char *w = p->wbuf + p->wlen;
        size_t n = 0;
        w[n++] = (unsigned char)(0x30 | (o->qos << 1));
        n += put_vbi(w + n, rl);
        n += put_str(w + n, o->subject, r->topic_len);
        uint64_t seq = r->sent + 1;
        if (o->qos > 0) {
            unsigned pid = (unsigned)(r->sent % 65535u) + 1;
            w[n++] = (unsigned char)(pid >> 8);
            w[n++] = (unsigned char)pid;
        }
        memcpy(w + n, r->payload, plen);
        bench_seq_put(w + n, sb, seq);
        if (plen >= 16) {
            bench_seq_put(w + n + 8, 8, now);
        }
        p->wlen += n + plen;
        r->sent++;
    }
}

static bool finished(const mq_run *r)
{
    if (r->sent < r->o->count || (r->o->qos > 0 && r->acked < r->o->count)) {
        return false;
    }
    return slowest(r) >= r->o->count;
}

static void run_loop(mq_run *r)
{
    const bench_opts *o = r->o;
    struct epoll_event evs[MQ_EVENTS_MAX];
    uint64_t progress_at = bench_now_ns();
    uint64_t last_mark = 0;
    r->t0 = bench_now_ns();
    getrusage(RUSAGE_SELF, &r->ru0);
    while (!r->bad && !finished(r)) {
        if (r->pub.wlen == 0) {
            fill_batch(r);
        }
        if (r->pub.wlen > 0 && !r->pub.epollout) {
            (void)flush(r, &r->pub);
        }
        int n = epoll_wait(r->ep, evs, MQ_EVENTS_MAX, o->spin ? 0 : 50);
        for (int i = 0; i < n && !r->bad; i++) {
            mq_conn *c = evs[i].data.ptr;
            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                on_readable(r, c);
            }
            if ((evs[i].events & EPOLLOUT) && c->wlen > 0) {
                (void)flush(r, c);
            }
        }
        uint64_t mark = r->delivered + r->acked + r->sent;
        uint64_t now = bench_now_ns();
        if (mark != last_mark) {
            last_mark = mark;
            progress_at = now;
        } else if ((double)(now - progress_at) > o->timeout_s * 1e9) {
            mq_error(r, "no progress for %.0f s (sent %llu, acknowledged %llu, slowest %llu)",
                     o->timeout_s, (unsigned long long)r->sent, (unsigned long long)r->acked,
                     (unsigned long long)slowest(r));
        }
    }
    r->t_end = bench_now_ns();
    getrusage(RUSAGE_SELF, &r->ru1);
}

static int report(mq_run *r)
{
    const bench_opts *o = r->o;
    double el = (double)(r->t_end - r->t0) * 1e-9;
    double pub_rate = el > 0 ? (double)r->sent / el : 0;
    double del_rate = el > 0 ? (double)r->delivered / el : 0;
    double cpu = el > 0 ? (ru_cpu_s(&r->ru1) - ru_cpu_s(&r->ru0)) / el : 0;
    double p50 = quantile_ns(r, 0.5) / 1e3, p99 = quantile_ns(r, 0.99) / 1e3;
    if (!o->quiet) {
        printf("%-5s %3s %4s %6s %7s %10s %12s %7s %11s %13s %10s %10s %6s  %s\n", "mode", "qos",
               "subs", "size", "window", "sent", "delivered", "time_s", "pub_msg/s",
               "deliver_msg/s", "p50_us", "p99_us", "client", "result");
        printf("%-5s %3d %4d %6zu %7llu %10llu %12llu %7.3f %11.0f %13.0f %10.1f %10.1f %5.0f%%  "
               "%s\n",
               "mqtt", o->qos, r->nsubs, o->size_bytes, (unsigned long long)o->window,
               (unsigned long long)r->sent, (unsigned long long)r->delivered, el, pub_rate,
               del_rate, p50, p99, cpu * 100, r->bad ? r->first_error : "ok");
    }
    printf("BENCH mode=mqtt qos=%d subs=%d size=%zu window=%llu msgs=%llu delivered=%llu", o->qos,
           r->nsubs, o->size_bytes, (unsigned long long)o->window, (unsigned long long)r->sent,
           (unsigned long long)r->delivered);
    if (!r->bad) {
        printf(" elapsed_ns=%llu pub_rate=%.0f deliver_rate=%.0f p50_us=%.1f p99_us=%.1f "
               "client_cpu=%.3f ok=1\n",
               (unsigned long long)(r->t_end - r->t0), pub_rate, del_rate, p50, p99, cpu);
    } else {
        printf(" ok=0 error=\"%s\"\n", r->first_error);
    }
    fflush(stdout);
    return r->bad ? 1 : 0;
}

static int add_conn(mq_run *r, mq_conn *c, size_t wcap)
{
    c->rbuf = malloc(MQ_RBUF_BYTES);
    c->wbuf = malloc(wcap);
    c->wcap = wcap;
    if (c->rbuf == NULL || c->wbuf == NULL || set_nonblock(c->fd) != 0) {
        return -1;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    return epoll_ctl(r->ep, EPOLL_CTL_ADD, c->fd, &ev);
}

static void close_conn(mq_conn *c)
{
    if (c->fd >= 0) {
        /* DISCONNECT, so that no will or session is left behind. */
        static const unsigned char disc[2] = {0xe0, 0};
        (void)!write(c->fd, disc, 2);
        close(c->fd);
    }
    free(c->rbuf);
    free(c->wbuf);
}

int bench_run_mqtt(const bench_opts *o)
{
    if (o->count == 0) {
        fprintf(stderr, "bench: mqtt takes --count, not --duration\n");
        return 2;
    }
    if (o->qos > 0 && o->window > 65535) {
        fprintf(stderr, "bench: at QoS %d --window is at most 65535 (packet ids)\n", o->qos);
        return 2;
    }
    mq_run *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return 2;
    }
    r->o = o;
    r->nsubs = o->subs;
    r->topic_len = strlen(o->subject);
    r->subs = calloc((size_t)o->subs, sizeof(mq_conn));
    r->payload = malloc(o->size_bytes + 1);
    r->ep = epoll_create1(0);
    int rc = 2;
    r->pub.fd = -1;
    for (int i = 0; r->subs != NULL && i < o->subs; i++) {
        r->subs[i].fd = -1;
    }
    if (r->subs == NULL || r->payload == NULL || r->ep < 0) {
        fprintf(stderr, "bench: out of memory\n");
        goto out;
    }
    memset(r->payload, 'x', o->size_bytes);
    for (int i = 0; i < o->subs; i++) {
        mq_conn *c = &r->subs[i];
        char name[32];
        snprintf(name, sizeof(name), "sub-%d", i);
        c->index = i;
        if (mq_open(c, o, name, 0) != 0 || mq_subscribe(c, o) != 0 ||
            add_conn(r, c, MQ_ACK_BUF_BYTES) != 0) {
            fprintf(stderr, "bench: %s: %s\n", name, c->error);
            goto out;
        }
    }
    if (mq_open(&r->pub, o, "pub", 0) != 0 || add_conn(r, &r->pub, o->batch_bytes) != 0) {
        fprintf(stderr, "bench: pub: %s\n", r->pub.error);
        goto out;
    }
    if (o->settle_s > 0) {
        usleep((useconds_t)(o->settle_s * 1e6));
    }
    run_loop(r);
    rc = report(r);
out:
    close_conn(&r->pub);
    for (int i = 0; r->subs != NULL && i < o->subs; i++) {
        close_conn(&r->subs[i]);
    }
    if (r->ep >= 0) {
        close(r->ep);
    }
    free(r->subs);
    free(r->payload);
    free(r);
    return rc;
}

/* ---- Idle connections -------------------------------------------------------------- */

typedef struct idle_conn {
    int fd;
    unsigned char state; /* 0 connecting, 1 CONNECT sent, 2 connected, 3 closed */
    unsigned char got;
    unsigned char ack[4];
} idle_conn;

#define IDLE_PENDING_MAX 256

int bench_run_mqtt_idle(const bench_opts *o)
{
    int n = o->conns;
    idle_conn *cs = calloc((size_t)n, sizeof(*cs));
    int ep = epoll_create1(0);
    if (cs == NULL || ep < 0) {
        fprintf(stderr, "bench: out of memory\n");
        free(cs);
        return 2;
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
        (void)setrlimit(RLIMIT_NOFILE, &rl);
    }
    char err[200] = "";
    int opened = 0, pending = 0, connected = 0, failed = 0;
    uint64_t t0 = bench_now_ns(), progress_at = t0;
    struct epoll_event evs[MQ_EVENTS_MAX];
    long pid = (long)getpid();
    while (connected + failed < n) {
        while (opened < n && pending < IDLE_PENDING_MAX) {
            idle_conn *c = &cs[opened];
            c->fd = tcp_open(o->host, o->port, true, err, sizeof(err));
            if (c->fd < 0) {
                c->state = 3;
                failed++;
                opened++;
                continue;
            }
            struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)opened};
            (void)epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
            opened++;
            pending++;
        }
        int k = epoll_wait(ep, evs, MQ_EVENTS_MAX, 100);
        uint64_t now = bench_now_ns();
        for (int i = 0; i < k; i++) {
            idle_conn *c = &cs[evs[i].data.u32];
            int idx = (int)evs[i].data.u32;
            if (c->state == 0 && (evs[i].events & EPOLLOUT)) {
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                (void)getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                char id[48];
                snprintf(id, sizeof(id), "idle-%ld-%d", pid, idx);
                unsigned char pkt[128];
                size_t len = connect_packet(pkt, id, o->keepalive);
                if (soerr != 0 || write(c->fd, pkt, len) != (ssize_t)len) {
                    snprintf(err, sizeof(err), "connection %d: %s", idx,
                             soerr ? strerror(soerr) : "CONNECT not written");
                    goto fail_one;
                }
                c->state = 1;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)idx};
                (void)epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
                continue;
            }
            if (c->state == 1 && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))) {
                ssize_t r = read(c->fd, c->ack + c->got, 4u - c->got);
                if (r <= 0) {
                    snprintf(err, sizeof(err), "connection %d closed before CONNACK", idx);
                    goto fail_one;
                }
                c->got = (unsigned char)(c->got + r);
                if (c->got < 4) {
                    continue;
                }
                if (c->ack[0] != 0x20 || c->ack[3] != 0) {
                    snprintf(err, sizeof(err), "connection %d: CONNACK return code %u", idx,
                             c->ack[3]);
                    goto fail_one;
                }
                c->state = 2;
                connected++;
                pending--;
                progress_at = now;
                continue;
            }
            continue;
        fail_one:
            (void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close(c->fd);
            c->fd = -1;
            c->state = 3;
            failed++;
            pending--;
        }
        if ((double)(now - progress_at) > o->timeout_s * 1e9) {
            snprintf(err, sizeof(err), "no CONNACK for %.0f s", o->timeout_s);
            break;
        }
    }
    double connect_s = (double)(bench_now_ns() - t0) * 1e-9;
    printf("idle: %d of %d connected in %.2f s\n", connected, n, connect_s);
    fflush(stdout);
    /* Hold: answer nothing, send PINGREQ every keep-alive / 2 (none with 0),
     * count connections the broker closes. */
    uint64_t hold_end = bench_now_ns() + (uint64_t)(o->hold_s * 1e9);
    uint64_t next_ping =
        o->keepalive > 0 ? bench_now_ns() + (uint64_t)o->keepalive * 500000000u : UINT64_MAX;
    int dropped = 0;
    while (bench_now_ns() < hold_end) {
        int k = epoll_wait(ep, evs, MQ_EVENTS_MAX, 200);
        for (int i = 0; i < k; i++) {
            idle_conn *c = &cs[evs[i].data.u32];
            if (c->state != 2) {
                continue;
            }
            unsigned char buf[64];
            ssize_t r = read(c->fd, buf, sizeof(buf));
            if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
                (void)epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                c->state = 3;
                dropped++;
            }
        }
        if (bench_now_ns() >= next_ping) {
            static const unsigned char ping[2] = {0xc0, 0};
            for (int i = 0; i < n; i++) {
                if (cs[i].state == 2) {
                    (void)!write(cs[i].fd, ping, 2);
                }
            }
            next_ping += (uint64_t)o->keepalive * 500000000u;
        }
    }
    bool ok = connected == n && dropped == 0;
    printf("BENCH mode=mqtt-idle conns=%d connected=%d dropped=%d keepalive=%d connect_s=%.3f "
           "hold_s=%.1f ok=%d",
           n, connected, dropped, o->keepalive, connect_s, o->hold_s, ok ? 1 : 0);
    if (!ok) {
        printf(" error=\"%s\"", err[0] ? err : "connections closed by the broker");
    }
    printf("\n");
    fflush(stdout);
    static const unsigned char disc[2] = {0xe0, 0};
    for (int i = 0; i < n; i++) {
        if (cs[i].fd >= 0) {
            if (cs[i].state == 2) {
                (void)!write(cs[i].fd, disc, 2);
            }
            close(cs[i].fd);
        }
    }
    close(ep);
    free(cs);
    return ok ? 0 : 1;
}
