/* Core NATS cases driven by Debian's nats.c (libnats-dev 3.4.x) against a
 * running broker (natsedge or the reference nats-server).
 *
 *   natsc_core <url> [case ...]   run the named cases (all when none given)
 *   natsc_core --list             print the case names, one per line
 *
 * Each case prints "ok <case>" or "FAIL <case>: <line>: <what>" and the
 * program exits 0 only if every case passed (1 on a failed case, 2 on usage,
 * 3 when the watchdog fires). Every wait is bounded: connects, flushes,
 * requests and NextMsg carry timeouts, and alarm() caps the whole run.
 *
 * "Settled" below means: the publisher's connection was flushed (the broker
 * has processed every PUB), then each subscriber's connection was flushed
 * (the broker writes a connection's MSGs and its PONG in order, and nats.c
 * queues a MSG before it handles the PONG that follows), so the pending
 * counts of sync subscriptions are exact without sleeping.
 */
#include <nats/nats.h>

#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    CONNECT_TIMEOUT_MS = 3000,
    FLUSH_TIMEOUT_MS = 5000,
    MSG_TIMEOUT_MS = 5000,
    REQUEST_TIMEOUT_MS = 3000,
    QUIET_MS = 200, /* how long "nothing more arrives" is watched */
    WATCHDOG_S = 90,
    CLOSE_WAIT_MS = 5000,
};

static const char *g_url;
static const char *g_case;

__attribute__((format(printf, 2, 3))) static void fail_line(int line, const char *fmt, ...)
{
    va_list ap;
    printf("FAIL %s: line %d: ", g_case, line);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    fflush(stdout);
}

static void fail_status(int line, const char *expr, natsStatus s)
{
    natsStatus last = NATS_OK;
    const char *text = nats_GetLastError(&last);
    fail_line(line, "%s -> %s (%d)%s%s", expr, natsStatus_GetText(s), (int)s,
              text && *text ? "; last error: " : "", text ? text : "");
}

/* Each case function declares its resources NULL first and has an `out:`
 * label that releases them; these jump there on the first failure. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fail_line(__LINE__, __VA_ARGS__);                                                      \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_OK(expr)                                                                             \
    do {                                                                                           \
        natsStatus s_ = (expr);                                                                    \
        if (s_ != NATS_OK) {                                                                       \
            fail_status(__LINE__, #expr, s_);                                                      \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

#define CHECK_STATUS(expr, want)                                                                   \
    do {                                                                                           \
        natsStatus s_ = (expr);                                                                    \
        if (s_ != (want)) {                                                                        \
            fail_line(__LINE__, "%s -> %s (%d), want %s", #expr, natsStatus_GetText(s_), (int)s_,  \
                      natsStatus_GetText(want));                                                   \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

/* A connection to g_url: no reconnect, bounded connect. */
static natsStatus dial(natsConnection **nc, const char *name)
{
    natsOptions *opts = NULL;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK)
        s = natsOptions_SetURL(opts, g_url);
    if (s == NATS_OK)
        s = natsOptions_SetTimeout(opts, CONNECT_TIMEOUT_MS);
    if (s == NATS_OK)
        s = natsOptions_SetAllowReconnect(opts, false);
    if (s == NATS_OK)
        s = natsOptions_SetName(opts, name);
    if (s == NATS_OK)
        s = natsConnection_Connect(nc, opts);
    natsOptions_Destroy(opts);
    return s;
}

static natsStatus flush(natsConnection *nc)
{
    return natsConnection_FlushTimeout(nc, FLUSH_TIMEOUT_MS);
}

static int pending_msgs(natsSubscription *sub)
{
    int msgs = -1, bytes = -1;
    if (natsSubscription_GetPending(sub, &msgs, &bytes) != NATS_OK)
        return -1;
    return msgs;
}

static uint64_t in_msgs(natsConnection *nc)
{
    natsStatistics *st = NULL;
    uint64_t in = UINT64_MAX;
    if (natsStatistics_Create(&st) == NATS_OK && natsConnection_GetStats(nc, st) == NATS_OK)
        natsStatistics_GetCounts(st, &in, NULL, NULL, NULL, NULL);
    natsStatistics_Destroy(st);
    return in;
}

static int data_is(natsMsg *m, const char *want)
{
    size_t n = strlen(want);
    return (size_t)natsMsg_GetDataLength(m) == n && memcmp(natsMsg_GetData(m), want, n) == 0;
}

/* Bytes that differ by position and seed, so a shifted, truncated or
 * swapped payload does not compare equal. */
static void fill(char *buf, size_t n, unsigned seed)
{
    uint32_t x = 2463534242u ^ (seed * 2654435761u);
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (char)(x >> 24);
    }
}

/* ---- pub/sub with an exact count ---------------------------------------- */

static int case_pubsub(void)
{
    enum { N = 1000 };
    int ok = 0;
    natsConnection *pub = NULL, *subc = NULL;
    natsSubscription *sub = NULL;
    natsMsg *m = NULL;
    char want[32];
    int64_t delivered = -1;

    CHECK_OK(dial(&pub, "c-pubsub-pub"));
    CHECK_OK(dial(&subc, "c-pubsub-sub"));
    CHECK_OK(natsConnection_SubscribeSync(&sub, subc, "c.pubsub.exact"));
    CHECK_OK(flush(subc));
    for (int i = 0; i < N; i++) {
        snprintf(want, sizeof want, "msg-%d", i);
        CHECK_OK(natsConnection_PublishString(pub, "c.pubsub.exact", want));
    }
    CHECK_OK(flush(pub));
    CHECK_OK(flush(subc));
    CHECK(pending_msgs(sub) == N, "pending %d after settling, want %d", pending_msgs(sub), N);
    for (int i = 0; i < N; i++) {
        CHECK_OK(natsSubscription_NextMsg(&m, sub, MSG_TIMEOUT_MS));
        snprintf(want, sizeof want, "msg-%d", i);
        CHECK(data_is(m, want), "message %d is %.*s, want %s (order from one publisher)", i,
              natsMsg_GetDataLength(m), natsMsg_GetData(m), want);
        CHECK(strcmp(natsMsg_GetSubject(m), "c.pubsub.exact") == 0, "subject %s",
              natsMsg_GetSubject(m));
        natsMsg_Destroy(m);
        m = NULL;
    }
    CHECK_STATUS(natsSubscription_NextMsg(&m, sub, QUIET_MS), NATS_TIMEOUT);
    CHECK_OK(natsSubscription_GetDelivered(sub, &delivered));
    CHECK(delivered == N, "delivered %lld, want %d", (long long)delivered, N);
    CHECK(in_msgs(subc) == N, "connection received %llu MSGs, want %d",
          (unsigned long long)in_msgs(subc), N);
    ok = 1;
out:
    natsMsg_Destroy(m);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(subc);
    natsConnection_Destroy(pub);
    return ok;
}

/* ---- wildcards ---------------------------------------------------------- */

static int case_wildcards(void)
{
    /* Published in this order by one connection; each subscription must see
     * exactly the subjects listed for it, in this order. */
    static const char *const pubs[] = {"wc", "wc.a", "wc.b", "wc.a.c", "wc.b.c", "wc.a.b.c", "x.a"};
    static const struct {
        const char *filter;
        const char *want[8];
    } subs[] = {
        {"wc", {"wc"}},
        {"*", {"wc"}},
        {"wc.*", {"wc.a", "wc.b"}},
        {"wc.>", {"wc.a", "wc.b", "wc.a.c", "wc.b.c", "wc.a.b.c"}}, /* not "wc" itself */
        {"wc.*.c", {"wc.a.c", "wc.b.c"}},
        {"wc.a.>", {"wc.a.c", "wc.a.b.c"}},
        {"*.a", {"wc.a", "x.a"}},
        {"*.*.c", {"wc.a.c", "wc.b.c"}},
        {">", {"wc", "wc.a", "wc.b", "wc.a.c", "wc.b.c", "wc.a.b.c", "x.a"}},
        {"wc.a.b", {NULL}},
    };
    enum { NSUBS = sizeof subs / sizeof subs[0] };
    int ok = 0;
    natsConnection *pub = NULL, *subc = NULL;
    natsSubscription *sub[NSUBS] = {0};
    natsMsg *m = NULL;

    CHECK_OK(dial(&pub, "c-wild-pub"));
    CHECK_OK(dial(&subc, "c-wild-sub"));
    for (int i = 0; i < NSUBS; i++)
        CHECK_OK(natsConnection_SubscribeSync(&sub[i], subc, subs[i].filter));
    CHECK_OK(flush(subc));
    for (size_t p = 0; p < sizeof pubs / sizeof pubs[0]; p++)
        CHECK_OK(natsConnection_PublishString(pub, pubs[p], pubs[p]));
    CHECK_OK(flush(pub));
    CHECK_OK(flush(subc));
    for (int i = 0; i < NSUBS; i++) {
        int n = 0;
        while (n < 8 && subs[i].want[n])
            n++;
        CHECK(pending_msgs(sub[i]) == n, "subscription '%s' has %d messages, want %d",
              subs[i].filter, pending_msgs(sub[i]), n);
        for (int k = 0; k < n; k++) {
            CHECK_OK(natsSubscription_NextMsg(&m, sub[i], MSG_TIMEOUT_MS));
            CHECK(strcmp(natsMsg_GetSubject(m), subs[i].want[k]) == 0,
                  "subscription '%s' message %d: subject %s, want %s", subs[i].filter, k,
                  natsMsg_GetSubject(m), subs[i].want[k]);
            CHECK(data_is(m, subs[i].want[k]), "subscription '%s' message %d: wrong payload",
                  subs[i].filter, k);
            natsMsg_Destroy(m);
            m = NULL;
        }
    }
    CHECK_STATUS(natsSubscription_NextMsg(&m, sub[NSUBS - 1], QUIET_MS), NATS_TIMEOUT);
    ok = 1;
out:
    natsMsg_Destroy(m);
    for (int i = 0; i < NSUBS; i++)
        natsSubscription_Destroy(sub[i]);
    natsConnection_Destroy(subc);
    natsConnection_Destroy(pub);
    return ok;
}

/* ---- queue group of 3 members ------------------------------------------- */

static int case_queue(void)
{
    enum { N = 300, MEMBERS = 3 };
    int ok = 0;
    natsConnection *pub = NULL, *plainc = NULL, *mc[MEMBERS] = {0};
    natsSubscription *plain = NULL, *member[MEMBERS] = {0};
    natsMsg *m = NULL;
    unsigned char seen[N] = {0};
    int got[MEMBERS] = {0};
    int total = 0;
    char buf[32];

    CHECK_OK(dial(&pub, "c-queue-pub"));
    CHECK_OK(dial(&plainc, "c-queue-plain"));
    CHECK_OK(natsConnection_SubscribeSync(&plain, plainc, "c.queue.work"));
    CHECK_OK(flush(plainc));
    for (int i = 0; i < MEMBERS; i++) {
        snprintf(buf, sizeof buf, "c-queue-m%d", i);
        CHECK_OK(dial(&mc[i], buf));
        CHECK_OK(natsConnection_QueueSubscribeSync(&member[i], mc[i], "c.queue.work", "workers"));
        CHECK_OK(flush(mc[i]));
    }
    for (int i = 0; i < N; i++) {
        snprintf(buf, sizeof buf, "%d", i);
        CHECK_OK(natsConnection_PublishString(pub, "c.queue.work", buf));
    }
    CHECK_OK(flush(pub));
    CHECK_OK(flush(plainc));
    for (int i = 0; i < MEMBERS; i++)
        CHECK_OK(flush(mc[i]));

    for (int i = 0; i < MEMBERS; i++) {
        got[i] = pending_msgs(member[i]);
        CHECK(got[i] >= 0, "pending of member %d", i);
        total += got[i];
    }
    CHECK(total == N, "members received %d + %d + %d = %d messages, want %d (each exactly once)",
          got[0], got[1], got[2], total, N);
    for (int i = 0; i < MEMBERS; i++) {
        CHECK(got[i] > 0, "member %d received nothing (%d/%d/%d)", i, got[0], got[1], got[2]);
        for (int k = 0; k < got[i]; k++) {
            CHECK_OK(natsSubscription_NextMsg(&m, member[i], MSG_TIMEOUT_MS));
            int len = natsMsg_GetDataLength(m);
            CHECK(len > 0 && len < (int)sizeof buf, "member %d: payload length %d", i, len);
            memcpy(buf, natsMsg_GetData(m), (size_t)len);
            buf[len] = '\0';
            int v = atoi(buf);
            CHECK(v >= 0 && v < N, "member %d: payload %s", i, buf);
            CHECK(!seen[v], "message %d delivered twice in the group", v);
            seen[v] = 1;
            natsMsg_Destroy(m);
            m = NULL;
        }
    }
    for (int i = 0; i < MEMBERS; i++)
        CHECK_STATUS(natsSubscription_NextMsg(&m, member[i], 50), NATS_TIMEOUT);
    CHECK(pending_msgs(plain) == N, "plain subscriber beside the group has %d messages, want %d",
          pending_msgs(plain), N);
    printf("  queue spread: %d/%d/%d\n", got[0], got[1], got[2]);
    ok = 1;
out:
    natsMsg_Destroy(m);
    natsSubscription_Destroy(plain);
    for (int i = 0; i < MEMBERS; i++) {
        natsSubscription_Destroy(member[i]);
        natsConnection_Destroy(mc[i]);
    }
    natsConnection_Destroy(plainc);
    natsConnection_Destroy(pub);
    return ok;
}

/* ---- request/reply ------------------------------------------------------ */

static atomic_int g_served;

static void on_request(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    char out[64];
    int len = natsMsg_GetDataLength(msg);
    const char *reply = natsMsg_GetReply(msg);
    (void)sub;
    (void)closure;
    snprintf(out, sizeof out, "re:%.*s", len, natsMsg_GetData(msg));
    if (reply != NULL && *reply != '\0' && natsConnection_PublishString(nc, reply, out) == NATS_OK)
        atomic_fetch_add(&g_served, 1);
    natsMsg_Destroy(msg);
}

static int case_request(void)
{
    enum { N = 20 };
    int ok = 0;
    natsConnection *svc = NULL, *cli = NULL;
    natsSubscription *sub = NULL;
    natsMsg *reply = NULL;
    char req[32], want[40];

    atomic_store(&g_served, 0);
    CHECK_OK(dial(&svc, "c-req-service"));
    CHECK_OK(dial(&cli, "c-req-client"));
    CHECK_OK(natsConnection_Subscribe(&sub, svc, "c.req.svc", on_request, NULL));
    CHECK_OK(flush(svc));
    for (int i = 0; i < 2 * N; i++) {
        /* Half from another connection, half from the responder's own. */
        natsConnection *from = i < N ? cli : svc;
        snprintf(req, sizeof req, "q%d", i);
        snprintf(want, sizeof want, "re:q%d", i);
        CHECK_OK(natsConnection_RequestString(&reply, from, "c.req.svc", req, REQUEST_TIMEOUT_MS));
        CHECK(data_is(reply, want), "reply %d is %.*s, want %s", i, natsMsg_GetDataLength(reply),
              natsMsg_GetData(reply), want);
        natsMsg_Destroy(reply);
        reply = NULL;
    }
    CHECK(atomic_load(&g_served) == 2 * N, "responder served %d requests, want %d",
          atomic_load(&g_served), 2 * N);
    ok = 1;
out:
    natsMsg_Destroy(reply);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(cli);
    natsConnection_Destroy(svc);
    return ok;
}

/* ---- headers ------------------------------------------------------------ */

static int header_is(natsMsg *m, const char *key, const char *want)
{
    const char *v = NULL;
    return natsMsgHeader_Get(m, key, &v) == NATS_OK && v != NULL && strcmp(v, want) == 0;
}

static void on_echo_headers(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    natsMsg *out = NULL;
    const char *v = NULL;
    (void)sub;
    (void)closure;
    if (natsMsg_Create(&out, natsMsg_GetReply(msg), NULL, "pong", 4) == NATS_OK &&
        natsMsgHeader_Get(msg, "X-Req", &v) == NATS_OK &&
        natsMsgHeader_Set(out, "X-Echo", v) == NATS_OK)
        natsConnection_PublishMsg(nc, out);
    natsMsg_Destroy(out);
    natsMsg_Destroy(msg);
}

static int case_headers(void)
{
    int ok = 0;
    natsConnection *pub = NULL, *subc = NULL;
    natsSubscription *sub = NULL, *svc = NULL;
    natsMsg *out = NULL, *m = NULL, *reply = NULL;
    const char **vals = NULL, **keys = NULL;
    int count = 0;
    const char *v = NULL;

    CHECK_OK(dial(&pub, "c-hdr-pub"));
    CHECK_OK(dial(&subc, "c-hdr-sub"));
    CHECK_STATUS(natsConnection_HasHeaderSupport(pub), NATS_OK);
    CHECK_OK(natsConnection_SubscribeSync(&sub, subc, "c.hdr.test"));
    CHECK_OK(flush(subc));

    /* 1: headers and a payload. */
    CHECK_OK(natsMsg_Create(&out, "c.hdr.test", NULL, "body", 4));
    CHECK_OK(natsMsgHeader_Set(out, "X-One", "a"));
    CHECK_OK(natsMsgHeader_Add(out, "X-Multi", "1"));
    CHECK_OK(natsMsgHeader_Add(out, "X-Multi", "2"));
    CHECK_OK(natsMsgHeader_Set(out, "X-Over", "old"));
    CHECK_OK(natsMsgHeader_Set(out, "X-Over", "new"));
    CHECK_OK(natsMsgHeader_Set(out, "X-Spaces", "a value: with spaces"));
    CHECK_OK(natsMsgHeader_Set(out, "X-Gone", "x"));
    CHECK_OK(natsMsgHeader_Delete(out, "X-Gone"));
    CHECK_OK(natsConnection_PublishMsg(pub, out));
    natsMsg_Destroy(out);
    out = NULL;
    /* 2: headers and an empty payload. */
    CHECK_OK(natsMsg_Create(&out, "c.hdr.test", NULL, NULL, 0));
    CHECK_OK(natsMsgHeader_Set(out, "X-Only", "yes"));
    CHECK_OK(natsConnection_PublishMsg(pub, out));
    natsMsg_Destroy(out);
    out = NULL;
    /* 3: no headers after messages with headers. */
    CHECK_OK(natsConnection_PublishString(pub, "c.hdr.test", "plain"));
    CHECK_OK(flush(pub));
    CHECK_OK(flush(subc));
    CHECK(pending_msgs(sub) == 3, "pending %d, want 3", pending_msgs(sub));

    CHECK_OK(natsSubscription_NextMsg(&m, sub, MSG_TIMEOUT_MS));
    CHECK(data_is(m, "body"), "payload of message 1 is %.*s", natsMsg_GetDataLength(m),
          natsMsg_GetData(m));
    CHECK(header_is(m, "X-One", "a"), "X-One");
    CHECK(header_is(m, "X-Over", "new"), "X-Over (Set twice keeps the last value)");
    CHECK(header_is(m, "X-Spaces", "a value: with spaces"), "X-Spaces");
    CHECK_STATUS(natsMsgHeader_Get(m, "X-Gone", &v), NATS_NOT_FOUND);
    CHECK_STATUS(natsMsgHeader_Get(m, "X-Absent", &v), NATS_NOT_FOUND);
    CHECK_OK(natsMsgHeader_Values(m, "X-Multi", &vals, &count));
    CHECK(count == 2 && strcmp(vals[0], "1") == 0 && strcmp(vals[1], "2") == 0,
          "X-Multi has %d values", count);
    CHECK_OK(natsMsgHeader_Keys(m, &keys, &count));
    CHECK(count == 4, "%d header keys, want 4 (X-One, X-Multi, X-Over, X-Spaces)", count);
    natsMsg_Destroy(m);
    m = NULL;

    CHECK_OK(natsSubscription_NextMsg(&m, sub, MSG_TIMEOUT_MS));
    CHECK(natsMsg_GetDataLength(m) == 0, "message 2 payload length %d, want 0",
          natsMsg_GetDataLength(m));
    CHECK(header_is(m, "X-Only", "yes"), "X-Only");
    natsMsg_Destroy(m);
    m = NULL;

    CHECK_OK(natsSubscription_NextMsg(&m, sub, MSG_TIMEOUT_MS));
    CHECK(data_is(m, "plain"), "message 3 payload");
    CHECK_STATUS(natsMsgHeader_Get(m, "X-One", &v), NATS_NOT_FOUND);
    natsMsg_Destroy(m);
    m = NULL;

    /* Headers both ways through a request. */
    CHECK_OK(natsConnection_Subscribe(&svc, subc, "c.hdr.svc", on_echo_headers, NULL));
    CHECK_OK(flush(subc));
    CHECK_OK(natsMsg_Create(&out, "c.hdr.svc", NULL, "ping", 4));
    CHECK_OK(natsMsgHeader_Set(out, "X-Req", "42"));
    CHECK_OK(natsConnection_RequestMsg(&reply, pub, out, REQUEST_TIMEOUT_MS));
    CHECK(data_is(reply, "pong"), "reply payload");
    CHECK(header_is(reply, "X-Echo", "42"), "X-Echo in the reply");
    ok = 1;
out:
    free((void *)vals);
    free((void *)keys);
    natsMsg_Destroy(reply);
    natsMsg_Destroy(m);
    natsMsg_Destroy(out);
    natsSubscription_Destroy(svc);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(subc);
    natsConnection_Destroy(pub);
    return ok;
}

/* ---- no responders ------------------------------------------------------ */

static int case_noresponders(void)
{
    enum { LONG_TIMEOUT_MS = 5000 };
    int ok = 0;
    natsConnection *nc = NULL;
    natsMsg *reply = NULL;
    int64_t t0, took;

    CHECK_OK(dial(&nc, "c-noresp"));
    CHECK_STATUS(natsConnection_HasHeaderSupport(nc), NATS_OK);
    t0 = nats_Now();
    CHECK_STATUS(natsConnection_RequestString(&reply, nc, "c.nobody.home", "x", LONG_TIMEOUT_MS),
                 NATS_NO_RESPONDERS);
    took = nats_Now() - t0;
    CHECK(reply == NULL, "a reply message came back");
    /* The 503 comes from the broker at once, not from the timeout. */
    CHECK(took < LONG_TIMEOUT_MS / 2, "no-responders answer took %lld ms", (long long)took);
    /* The connection is fine afterwards. */
    CHECK_OK(flush(nc));
    CHECK_STATUS(natsConnection_RequestString(&reply, nc, "c.nobody.home", "y", LONG_TIMEOUT_MS),
                 NATS_NO_RESPONDERS);
    ok = 1;
out:
    natsMsg_Destroy(reply);
    natsConnection_Destroy(nc);
    return ok;
}

/* ---- max payload -------------------------------------------------------- */

static int case_maxpayload(void)
{
    int ok = 0;
    natsConnection *pub = NULL, *subc = NULL;
    natsSubscription *sub = NULL;
    natsMsg *m = NULL, *out = NULL;
    char *buf = NULL;
    int64_t mp = 0;

    CHECK_OK(dial(&pub, "c-maxpay-pub"));
    CHECK_OK(dial(&subc, "c-maxpay-sub"));
    mp = natsConnection_GetMaxPayload(pub);
    CHECK(mp > 0 && mp <= 64 * 1024 * 1024, "max_payload %lld", (long long)mp);
    printf("  max_payload %lld\n", (long long)mp);
    buf = malloc((size_t)mp + 1);
    CHECK(buf != NULL, "out of memory for %lld bytes", (long long)mp + 1);
    fill(buf, (size_t)mp + 1, 7);
    CHECK_OK(natsConnection_SubscribeSync(&sub, subc, "c.maxpay"));
    CHECK_OK(flush(subc));

    /* One byte over: refused by the client before anything is sent. */
    CHECK_STATUS(natsConnection_Publish(pub, "c.maxpay", buf, (int)mp + 1), NATS_MAX_PAYLOAD);
    /* Headers count too: a header plus exactly max_payload bytes is over. */
    CHECK_OK(natsMsg_Create(&out, "c.maxpay", NULL, buf, (int)mp));
    CHECK_OK(natsMsgHeader_Set(out, "X-H", "1"));
    CHECK_STATUS(natsConnection_PublishMsg(pub, out), NATS_MAX_PAYLOAD);
    /* Exactly max_payload: delivered intact. */
    CHECK_OK(natsConnection_Publish(pub, "c.maxpay", buf, (int)mp));
    CHECK_OK(flush(pub));
    CHECK(!natsConnection_IsClosed(pub), "publisher closed");
    CHECK_OK(flush(subc));
    CHECK(pending_msgs(sub) == 1, "pending %d, want exactly 1 (the over-size ones must not go out)",
          pending_msgs(sub));
    CHECK_OK(natsSubscription_NextMsg(&m, sub, MSG_TIMEOUT_MS));
    CHECK(natsMsg_GetDataLength(m) == (int)mp, "received %d bytes, want %lld",
          natsMsg_GetDataLength(m), (long long)mp);
    CHECK(memcmp(natsMsg_GetData(m), buf, (size_t)mp) == 0, "payload of max_payload bytes differs");
    ok = 1;
out:
    free(buf);
    natsMsg_Destroy(out);
    natsMsg_Destroy(m);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(subc);
    natsConnection_Destroy(pub);
    return ok;
}

/* ---- auto-unsubscribe --------------------------------------------------- */

static int case_autounsub(void)
{
    enum { MAX = 2, SENT = 5 };
    int ok = 0;
    natsConnection *pub = NULL, *subc = NULL;
    natsSubscription *sub = NULL;
    natsMsg *m = NULL;
    char want[16];
    natsStatus s;

    CHECK_OK(dial(&pub, "c-autounsub-pub"));
    CHECK_OK(dial(&subc, "c-autounsub-sub"));
    CHECK_OK(natsConnection_SubscribeSync(&sub, subc, "c.autounsub"));
    CHECK_OK(natsSubscription_AutoUnsubscribe(sub, MAX));
    CHECK_OK(flush(subc)); /* the broker has the UNSUB <sid> 2 */
    for (int i = 0; i < SENT; i++) {
        snprintf(want, sizeof want, "%d", i);
        CHECK_OK(natsConnection_PublishString(pub, "c.autounsub", want));
    }
    CHECK_OK(flush(pub));
    CHECK_OK(flush(subc));
    for (int i = 0; i < MAX; i++) {
        CHECK_OK(natsSubscription_NextMsg(&m, sub, MSG_TIMEOUT_MS));
        snprintf(want, sizeof want, "%d", i);
        CHECK(data_is(m, want), "message %d payload", i);
        natsMsg_Destroy(m);
        m = NULL;
    }
    s = natsSubscription_NextMsg(&m, sub, QUIET_MS);
    CHECK(s == NATS_MAX_DELIVERED_MSGS || s == NATS_INVALID_SUBSCRIPTION,
          "NextMsg after %d messages -> %s, want max delivered / invalid subscription", MAX,
          natsStatus_GetText(s));
    /* nats.c counts every MSG the broker sends, even for a subscription it
     * already dropped: this checks the broker honoured the max itself. */
    CHECK(in_msgs(subc) == MAX, "the broker sent %llu MSGs, want %d",
          (unsigned long long)in_msgs(subc), MAX);
    CHECK_OK(natsConnection_PublishString(pub, "c.autounsub", "late"));
    CHECK_OK(flush(pub));
    CHECK_OK(flush(subc));
    CHECK(in_msgs(subc) == MAX, "the broker sent %llu MSGs after the max was reached, want %d",
          (unsigned long long)in_msgs(subc), MAX);
    ok = 1;
out:
    natsMsg_Destroy(m);
    natsSubscription_Destroy(sub);
    natsConnection_Destroy(subc);
    natsConnection_Destroy(pub);
    return ok;
}

/* ---- flush and RTT ------------------------------------------------------ */

static int case_flush(void)
{
    enum { N = 10000 };
    int ok = 0;
    natsConnection *nc = NULL;
    int64_t rtt = -1;
    uint64_t out_msgs = 0;
    natsStatistics *st = NULL;

    CHECK_OK(dial(&nc, "c-flush"));
    for (int i = 0; i < 5; i++)
        CHECK_OK(natsConnection_FlushTimeout(nc, FLUSH_TIMEOUT_MS));
    CHECK_OK(natsConnection_GetRTT(nc, &rtt));
    CHECK(rtt > 0 && rtt < 2000LL * 1000 * 1000, "RTT %lld ns", (long long)rtt);
    printf("  rtt %lld us\n", (long long)(rtt / 1000));
    /* A flush behind a burst of publishes (nobody subscribed). */
    for (int i = 0; i < N; i++)
        CHECK_OK(natsConnection_PublishString(nc, "c.flush.burst", "0123456789"));
    CHECK_OK(natsConnection_FlushTimeout(nc, FLUSH_TIMEOUT_MS));
    CHECK_OK(natsStatistics_Create(&st));
    CHECK_OK(natsConnection_GetStats(nc, st));
    CHECK_OK(natsStatistics_GetCounts(st, NULL, NULL, &out_msgs, NULL, NULL));
    CHECK(out_msgs == N, "outMsgs %llu, want %d", (unsigned long long)out_msgs, N);
    CHECK_OK(natsConnection_GetRTT(nc, &rtt));
    CHECK(rtt > 0 && rtt < 2000LL * 1000 * 1000, "RTT after burst %lld ns", (long long)rtt);
    ok = 1;
out:
    natsStatistics_Destroy(st);
    natsConnection_Destroy(nc);
    return ok;
}

/* ---- large payload to two subscribers ----------------------------------- */

static int case_large(void)
{
    enum { SIZE = 512 * 1024, COUNT = 3, SUBS = 2 };
    int ok = 0;
    natsConnection *pub = NULL, *sc[SUBS] = {0};
    natsSubscription *sub[SUBS] = {0};
    natsMsg *m = NULL;
    char *buf[COUNT] = {0};

    CHECK_OK(dial(&pub, "c-large-pub"));
    CHECK(natsConnection_GetMaxPayload(pub) >= SIZE, "max_payload %lld is below %d",
          (long long)natsConnection_GetMaxPayload(pub), SIZE);
    for (int i = 0; i < SUBS; i++) {
        CHECK_OK(dial(&sc[i], i ? "c-large-sub1" : "c-large-sub0"));
        CHECK_OK(natsConnection_SubscribeSync(&sub[i], sc[i], "c.large"));
        CHECK_OK(flush(sc[i]));
    }
    for (int k = 0; k < COUNT; k++) {
        buf[k] = malloc(SIZE);
        CHECK(buf[k] != NULL, "out of memory");
        fill(buf[k], SIZE, 100u + (unsigned)k);
        CHECK_OK(natsConnection_Publish(pub, "c.large", buf[k], SIZE));
    }
    CHECK_OK(flush(pub));
    for (int i = 0; i < SUBS; i++) {
        CHECK_OK(flush(sc[i]));
        CHECK(pending_msgs(sub[i]) == COUNT, "subscriber %d has %d messages, want %d", i,
              pending_msgs(sub[i]), COUNT);
        for (int k = 0; k < COUNT; k++) {
            CHECK_OK(natsSubscription_NextMsg(&m, sub[i], MSG_TIMEOUT_MS));
            CHECK(natsMsg_GetDataLength(m) == SIZE, "subscriber %d message %d: %d bytes, want %d",
                  i, k, natsMsg_GetDataLength(m), SIZE);
            CHECK(memcmp(natsMsg_GetData(m), buf[k], SIZE) == 0,
                  "subscriber %d message %d: payload differs", i, k);
            natsMsg_Destroy(m);
            m = NULL;
        }
    }
    ok = 1;
out:
    natsMsg_Destroy(m);
    for (int k = 0; k < COUNT; k++)
        free(buf[k]);
    for (int i = 0; i < SUBS; i++) {
        natsSubscription_Destroy(sub[i]);
        natsConnection_Destroy(sc[i]);
    }
    natsConnection_Destroy(pub);
    return ok;
}

/* ---- driver ------------------------------------------------------------- */

static const struct {
    const char *name;
    int (*run)(void);
} cases[] = {
    {"pubsub", case_pubsub},         {"wildcards", case_wildcards},
    {"queue", case_queue},           {"request", case_request},
    {"headers", case_headers},       {"noresponders", case_noresponders},
    {"maxpayload", case_maxpayload}, {"autounsub", case_autounsub},
    {"flush", case_flush},           {"large", case_large},
};
enum { NCASES = sizeof cases / sizeof cases[0] };

static void on_alarm(int sig)
{
    static const char msg[] = "FAIL watchdog: the run took too long\n";
    (void)sig;
    if (write(STDOUT_FILENO, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(3);
}

static int find_case(const char *name)
{
    for (int i = 0; i < NCASES; i++)
        if (strcmp(cases[i].name, name) == 0)
            return i;
    return -1;
}

int main(int argc, char **argv)
{
    int failed = 0;
    natsStatus s;

    if (argc == 2 && strcmp(argv[1], "--list") == 0) {
        for (int i = 0; i < NCASES; i++)
            printf("%s\n", cases[i].name);
        return 0;
    }
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: %s <url> [case ...] | --list\n", argv[0]);
        return 2;
    }
    for (int a = 2; a < argc; a++) {
        if (find_case(argv[a]) < 0) {
            fprintf(stderr, "unknown case '%s' (see --list)\n", argv[a]);
            return 2;
        }
    }
    g_url = argv[1];
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGALRM, on_alarm);
    alarm(WATCHDOG_S);

    s = nats_Open(-1);
    if (s != NATS_OK) {
        printf("FAIL nats_Open: %s\n", natsStatus_GetText(s));
        return 1;
    }
    printf("nats.c %s against %s\n", nats_GetVersion(), g_url);
    for (int a = 2; a < argc || (argc == 2 && a - 2 < NCASES); a++) {
        int i = argc > 2 ? find_case(argv[a]) : a - 2;
        g_case = cases[i].name;
        if (cases[i].run())
            printf("ok %s\n", g_case);
        else
            failed++;
    }
    /* Every connection is destroyed by now: wait for the library's threads
     * so a leak checker sees everything released. */
    s = nats_CloseAndWait(CLOSE_WAIT_MS);
    if (s != NATS_OK) {
        printf("FAIL nats_CloseAndWait: %s\n", natsStatus_GetText(s));
        failed++;
    }
    if (failed)
        printf("%d case(s) failed\n", failed);
    return failed ? 1 : 0;
}
