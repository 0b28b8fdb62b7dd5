/* tools/bench: the project's benchmark client. Shared declarations of the
 * connection layer (bench_conn.c) and the runs (bench_run.c, bench_main.c).
 *
 * One thread drives every connection of a run through one epoll set, so the
 * client costs one core; it writes in large batches from a prebuilt buffer
 * and parses MSG lines in place, never copying a payload. */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_READ_BUF_BYTES (256u * 1024u)
#define BENCH_WRITE_BUF_BYTES (1024u * 1024u)
#define BENCH_CTL_BYTES 4096u
#define BENCH_LINE_MAX_BYTES 4096u
#define BENCH_SUBS_MAX 256
#define BENCH_SEQ_BYTES_MAX 8u

typedef enum bench_mode {
    BENCH_MODE_PUB,
    BENCH_MODE_PUBSUB,
    BENCH_MODE_FANOUT,
    BENCH_MODE_QUEUE,
    BENCH_MODE_REQREP,
    BENCH_MODE_MQTT,       /* bench_mqtt.c: MQTT 3.1.1 publish -> deliver */
    BENCH_MODE_MQTT_IDLE,  /* bench_mqtt.c: idle MQTT connections */
    BENCH_MODE_JS_PUB,     /* bench_js.c: publishes to a file stream, acks awaited */
    BENCH_MODE_JS_FETCH,   /* bench_js.c: pull consumer fetch with explicit acks */
    BENCH_MODE_JS_KV,      /* bench_js.c: KV put then get, one outstanding */
    BENCH_MODE_JS_STREAMS, /* bench_js.c: creates --count file streams */
    BENCH_MODE_JS_MULTI,   /* bench_js.c: K file streams, publish then pull consumers */
} bench_mode;

typedef struct bench_opts {
    bench_mode mode;
    char host[256];
    int port;
    size_t size_bytes;
    uint64_t count;      /* messages (or requests) to send; 0 when a duration is given */
    double duration_s;   /* publishing time after the warm-up; 0 when a count is given */
    double warmup_s;     /* excluded from rates and latencies */
    uint64_t window;     /* messages the publisher may be ahead of the slowest receiver */
    int subs;            /* receivers in pubsub (1), fanout and queue; js-multi: streams */
    double timeout_s;    /* a run with no progress for this long fails */
    const char *subject; /* subject prefix */
    bool quiet;          /* only the BENCH line */
    bool spin;           /* busy-poll: never sleep in epoll_wait */
    size_t batch_bytes;  /* publisher's write buffer (one writev per batch) */
    int sub_port;        /* receivers/responder on this port of the same host (0: port) */
    double settle_s;     /* pause after the receivers subscribed (interest crossing a leaf) */
    int qos;             /* mqtt: QoS of the publishes and the subscriptions */
    int conns;           /* mqtt-idle: connections */
    int keepalive;       /* mqtt-idle: keep-alive in the CONNECTs, seconds */
    double hold_s;       /* mqtt-idle: how long the connections stay */
    int batch;           /* js-fetch: messages per pull request */
    bool memory;         /* js-*: a memory stream instead of a file stream */
    bool keep;           /* js-*: leave the stream in place (default: delete it) */
    bool msg_id;         /* js-pub: each publish carries a Nats-Msg-Id header */
} bench_opts;

typedef struct bench_conn bench_conn;

/* A MSG for this connection. `payload` holds `avail` bytes of the `size`-byte
 * payload: all of it, or, when the payload straddles reads, at least
 * min(size, 8) bytes (the sequence number). `reply` is valid only during the
 * call. */
typedef void (*bench_msg_fn)(bench_conn *c, const char *reply, size_t reply_len,
                             const unsigned char *payload, size_t avail, size_t size);
typedef void (*bench_pong_fn)(bench_conn *c);

struct bench_conn {
    int fd;
    int ep; /* the epoll set it belongs to, -1 before */
    int index;
    char name[32];
    void *owner;
    bench_msg_fn on_msg;
    bench_pong_fn on_pong;
    long max_payload;
    bool headers; /* CONNECT with headers:true (set before bench_conn_open_headers) */

    /* The MSG or HMSG being handed to on_msg: its subject, and for an HMSG
     * the bytes of headers at the start of the payload (0 for a MSG). Valid
     * only during the call. A payload smaller than `whole_below` is handed
     * over whole, never split across reads (0: the default split above). */
    const char *msg_subject;
    size_t msg_subject_len;
    size_t msg_hdr_bytes;
    size_t whole_below;

    /* Read side: unparsed bytes are rbuf[rpos, rlen); `skip` bytes of a
     * payload already handed over are still to come. */
    char *rbuf;
    size_t rcap;
    size_t rlen;
    size_t rpos;
    size_t skip;

    /* Write side: bulk (prebuilt messages, not owned) goes first, then ctl. */
    const char *bulk;
    size_t bulk_len;
    size_t bulk_off;
    char ctl[BENCH_CTL_BYTES];
    size_t ctl_len;
    size_t ctl_off;
    bool epollout;

    /* Counters and per-receiver checks. */
    uint64_t pongs;
    uint64_t msgs;
    uint64_t bytes_in;
    uint64_t bytes_out;
    uint64_t last_seq;
    bool failed;
    char error[256];
};

uint64_t bench_now_ns(void);

/* Connects, reads INFO, sends CONNECT; the socket is non-blocking after. */
int bench_conn_open(bench_conn *c, const char *host, int port, const char *name, double timeout_s);
/* The same with "headers":true in the CONNECT (HMSG deliveries). */
int bench_conn_open_headers(bench_conn *c, const char *host, int port, const char *name,
                            double timeout_s);
void bench_conn_close(bench_conn *c);
/* Appends a protocol line (with its CRLF) to the control buffer. */
int bench_conn_ctl(bench_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 1 when everything is written, 0 when the socket would block, -1 on error. */
int bench_conn_flush(bench_conn *c);
/* Reads what is there and parses it: 0, or -1 when closed or on a protocol error. */
int bench_conn_read(bench_conn *c);
/* Sends PING and waits (poll, this connection only) for its PONG. */
int bench_conn_sync(bench_conn *c, double timeout_s);
/* Adds the connection to an epoll set (EPOLLIN), or toggles EPOLLOUT. */
int bench_conn_watch(bench_conn *c, int ep);
int bench_conn_want_write(bench_conn *c, bool on);

/* Sequence numbers: the first min(size, 8) payload bytes, little-endian. */
void bench_seq_put(unsigned char *p, size_t n, uint64_t seq);
uint64_t bench_seq_get(const unsigned char *p, size_t n);

/* One run of the mode in opts; prints its table row and BENCH line.
 * Returns 0 when the run was clean, 1 when it lost, duplicated or
 * reordered anything, 2 on a connection or setup error. */
int bench_run_throughput(const bench_opts *o);
int bench_run_reqrep(const bench_opts *o);
int bench_run_mqtt(const bench_opts *o);
int bench_run_mqtt_idle(const bench_opts *o);
int bench_run_js(const bench_opts *o);

const char *bench_mode_name(bench_mode m);

#endif
