/* What the JetStream fuzz harnesses (fuzz_js_api, fuzz_js_ack, fuzz_js_pull)
 * share: a server with JetStream over the simulated network and clock, the
 * input read as a program, clients whose deliveries are read and whose ack
 * subjects are kept, the invariants checked after each operation (every
 * consumer's num_pending equals a walk of its stream's store, its ack
 * floor lies below what it has still to deliver, its waiting pull requests
 * within max_waiting, every consumer in its stream's list), and the end: every stream deleted
 * through the API returns every JetStream pool object, and after shutdown every pool of the server
 * is idle. Any failure aborts (the fuzzer reports it). */
#ifndef JS_HARNESS_H
#define JS_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ne_error.h"
#include "core/ne_subject.h"
#include "js/ne_js_int.h"
#include "server/ne_server.h"
#include "sim/ne_sim_clock.h"
#include "sim/ne_sim_net.h"

#define JS_CLIENTS 2
#define JS_ACKS 64
#define JS_ACK_BYTES 200
#define JS_MAX_OPS 200

static ne_server srv;
static ne_sim_net sim;
static ne_loop loop;
static int js_client[JS_CLIENTS];
static char js_seen[NE_SIM_BUFFER_BYTES + 1];
/* Ack subjects of the latest deliveries, oldest overwritten. */
static char js_acks[JS_ACKS][JS_ACK_BYTES];
static uint32_t js_ack_count;
static char js_line[NE_MAX_CONTROL_LINE_BYTES + 64];

static inline void js_fail_if(bool cond, const char *what)
{
    if (cond) {
        fprintf(stderr, "JetStream fuzz: %s\n", what);
        abort();
    }
}

/* ---- The program ---------------------------------------------------------------------- */

typedef struct js_program {
    const uint8_t *data;
    size_t size;
    size_t pos;
} js_program;

static inline uint8_t js_next(js_program *p)
{
    return p->pos < p->size ? p->data[p->pos++] : 0;
}

static inline uint32_t js_next16(js_program *p)
{
    return (uint32_t)js_next(p) << 8 | js_next(p);
}

/* One of n things. */
static inline uint32_t js_pick(js_program *p, uint32_t n)
{
    return js_next(p) % n;
}

/* ---- Clients --------------------------------------------------------------------------- */

/* Keeps the ack subjects ($JS.ACK....) and flow control subjects
 * ($JS.FC....) of what a client got. */
static inline void js_keep_acks(const char *text)
{
    static const char *const prefixes[] = {"$JS.ACK.", "$JS.FC."};
    for (size_t k = 0; k < 2; k++) {
        uint32_t guard = 0;
        for (const char *a = strstr(text, prefixes[k]); a != NULL && guard++ < 4096;
             a = strstr(a + 1, prefixes[k])) {
            size_t len = strcspn(a, " \r\n");
            if (len < JS_ACK_BYTES) {
                char *slot = js_acks[js_ack_count++ % JS_ACKS];
                memcpy(slot, a, len);
                slot[len] = '\0';
            }
        }
    }
}

/* One of the kept subjects, NULL when none. */
static inline const char *js_kept(js_program *p)
{
    if (js_ack_count == 0) {
        return NULL;
    }
    return js_acks[js_pick(p, js_ack_count < JS_ACKS ? js_ack_count : JS_ACKS)];
}

static inline void js_step(int n)
{
    for (int i = 0; i < n; i++) {
        ne_sim_net_step(&sim, &loop);
        for (int c = 0; c < JS_CLIENTS; c++) {
            if (js_client[c] < 0) {
                continue;
            }
            size_t got = ne_sim_client_read(&sim, js_client[c], js_seen, sizeof(js_seen) - 1);
            js_seen[got] = '\0';
            if (got > 0 && getenv("JS_FUZZ_TRACE") != NULL) {
                fprintf(stderr, "client %d got: %.300s\n", c, js_seen);
            }
            js_keep_acks(js_seen);
        }
    }
}

static inline void js_send(int c, const void *bytes, size_t len)
{
    if (js_client[c] >= 0 && len > 0) {
        (void)ne_sim_client_write(&sim, js_client[c], bytes, len);
    }
}

static inline void js_send_text(int c, const char *text)
{
    js_send(c, text, strlen(text));
}

/* PUB subject [reply] with body (len bytes). */
static inline void js_pub(int c, const char *subject, const char *reply, const void *body,
                          size_t len)
{
    int n = snprintf(js_line, sizeof(js_line), "PUB %s%s%s %zu\r\n", subject,
                     reply[0] != '\0' ? " " : "", reply, len);
    if (n <= 0 || (size_t)n >= sizeof(js_line)) {
        return;
    }
    js_send(c, js_line, (size_t)n);
    js_send(c, body, len);
    js_send(c, "\r\n", 2);
}

/* HPUB with a header block (hdr, hlen bytes, ending in an empty line). */
static inline void js_hpub(int c, const char *subject, const char *reply, const char *hdr,
                           size_t hlen, const void *body, size_t len)
{
    int n = snprintf(js_line, sizeof(js_line), "HPUB %s%s%s %zu %zu\r\n", subject,
                     reply[0] != '\0' ? " " : "", reply, hlen, hlen + len);
    if (n <= 0 || (size_t)n >= sizeof(js_line)) {
        return;
    }
    js_send(c, js_line, (size_t)n);
    js_send(c, hdr, hlen);
    js_send(c, body, len);
    js_send(c, "\r\n", 2);
}

static inline void js_request(int c, const char *subject, const char *body)
{
    js_pub(c, subject, "in.r", body, strlen(body));
    js_step(3);
}

static inline void js_connect(int c)
{
    js_client[c] = ne_sim_connect(&sim, ne_server_client_port(&srv));
    js_fail_if(js_client[c] < 0, "connect");
    js_step(1);
    js_send_text(c, "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,"
                    "\"no_responders\":true,\"protocol\":1}\r\nSUB in.> 1\r\nSUB dl.> 2\r\n");
    js_step(2);
}

/* Time passes in ticks of 100 ms or less. */
static inline void js_advance(uint32_t ms)
{
    for (uint32_t done = 0; done < ms; done += 100) {
        ne_sim_clock_advance(ms - done < 100 ? ms - done : 100);
        js_step(1);
    }
}

/* ---- Invariants ---------------------------------------------------------------------- */

/* num_pending walked message by message (see test_js.c). */
static inline uint64_t js_walked_pending(const ne_js_consumer *c)
{
    ne_js_store *store = &c->stream->store;
    ne_slice f = ne_js_text_get(&srv.js, c->cfg.filter);
    uint64_t n = 0;
    static char subject[NE_MAX_CONTROL_LINE_BYTES + 1];
    uint64_t last = store->state.last_seq;
    for (uint64_t seq = c->sseq; seq <= last && seq - c->sseq < 100000; seq++) {
        ne_js_msg_info info;
        memset(&info, 0, sizeof(info));
        info.subject = subject;
        info.subject_cap = sizeof(subject);
        if (store->ops->info(store, seq, &info) != NE_OK) {
            continue;
        }
        if (f.len > 0 && !ne_subject_matches(f.ptr, f.len, subject, info.subject_len)) {
            continue;
        }
        if (c->lps_end != 0 && seq <= c->lps_end) {
            ne_js_subject_state ss;
            js_fail_if(store->ops->subject_state(store, (ne_slice){subject, info.subject_len},
                                                 &ss) != NE_OK,
                       "a stored message's subject has no state");
            if (ss.last_seq != seq) {
                continue;
            }
        }
        n++;
    }
    return n;
}

static inline void js_check(void)
{
    uint32_t consumers = 0;
    for (uint32_t a = 0; a < srv.js.account_count; a++) {
        uint32_t sg = 0;
        for (const ne_js_stream *st = srv.js.accounts[a].streams;
             st != NULL && sg++ < NE_JS_MAX_STREAMS; st = st->next) {
            js_fail_if(st->store.state.msgs > 0 &&
                           st->store.state.first_seq > st->store.state.last_seq,
                       "stream state: first after last");
            uint32_t cg = 0;
            for (const ne_js_consumer *c = st->consumers; c != NULL && cg++ < NE_JS_MAX_CONSUMERS;
                 c = c->next) {
                consumers++;
                if (c->num_pending != js_walked_pending(c)) {
                    fprintf(stderr, "consumer %s of %s: num_pending %llu, walked %llu\n", c->name,
                            ne_js_stream_name(&srv.js, st), (unsigned long long)c->num_pending,
                            (unsigned long long)js_walked_pending(c));
                    js_fail_if(true, "num_pending differs from the store");
                }
                if (c->asflr >= c->sseq) {
                    fprintf(stderr, "consumer %s of %s: ack floor %llu, next %llu\n", c->name,
                            ne_js_stream_name(&srv.js, st), (unsigned long long)c->asflr,
                            (unsigned long long)c->sseq);
                    js_fail_if(true, "ack floor at or past the next sequence");
                }
                js_fail_if(c->cfg.max_waiting > 0 && (int64_t)c->pull_count > c->cfg.max_waiting,
                           "more pull requests waiting than max_waiting");
            }
        }
    }
    js_fail_if(consumers != srv.js.consumer_pool.in_use, "consumers not in a stream's list");
}

/* ---- Life cycle ------------------------------------------------------------------------- */

static inline void js_start(void)
{
    ne_server_options opts;
    ne_server_options_default(&opts);
    opts.port = 0;
    opts.max_payload = 16 * 1024;
    opts.js.enabled = true;
    ne_net net;
    ne_sim_net_init(&sim, &net);
    js_fail_if(ne_server_init(&srv, &opts, &net, NULL) != NE_OK || ne_server_start(&srv) != NE_OK,
               "server start");
    ne_server_loop(&srv, &loop);
    js_ack_count = 0;
    for (int c = 0; c < JS_CLIENTS; c++) {
        js_connect(c);
    }
}

/* Deletes every stream through the API: every JetStream pool object comes
 * back; then the shutdown leaves every pool idle. */
static inline void js_finish(void)
{
    static char names[NE_JS_MAX_STREAMS][NE_JS_NAME_BYTES];
    uint32_t n = 0;
    for (uint32_t a = 0; a < srv.js.account_count; a++) {
        uint32_t sg = 0;
        for (const ne_js_stream *st = srv.js.accounts[a].streams;
             st != NULL && sg++ < NE_JS_MAX_STREAMS && n < NE_JS_MAX_STREAMS; st = st->next) {
            ne_slice name = ne_js_text_get(&srv.js, st->cfg.name);
            memcpy(names[n], name.ptr, name.len + 1);
            n++;
            if (getenv("JS_FUZZ_TRACE") != NULL) {
                /* What a seed reached: make seeds that get somewhere. */
                fprintf(stderr, "stream %s: %llu messages (last %llu), %u consumers\n",
                        ne_js_stream_name(&srv.js, st), (unsigned long long)st->store.state.msgs,
                        (unsigned long long)st->store.state.last_seq, st->consumer_count);
            }
        }
    }
    /* Whatever requests and acks are still queued are handled first. */
    js_step(3);
    for (uint32_t i = 0; i < n; i++) {
        char subject[NE_JS_NAME_BYTES + 32];
        snprintf(subject, sizeof(subject), "$JS.API.STREAM.DELETE.%s", names[i]);
        js_request(0, subject, "");
    }
    js_step(2);
    const char *busy = NULL;
    if (ne_js_pools_in_use(&srv.js, &busy) != 0) {
        fprintf(stderr, "JetStream pool %s in use with no stream left\n", busy);
        abort();
    }
    for (int c = 0; c < JS_CLIENTS; c++) {
        if (js_client[c] >= 0) {
            ne_sim_client_close(&sim, js_client[c]);
        }
    }
    js_step(3);
    ne_server_shutdown(&srv);
    busy = NULL;
    js_fail_if(ne_server_pools_in_use(&srv, &busy) != 0, busy != NULL ? busy : "a pool");
}

#endif
