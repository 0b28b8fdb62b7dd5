/* JetStream and KV cases driven by Debian's nats.c (libnats-dev 3.4.x)
 * against a running broker started with -js (natsedge or the reference
 * nats-server). Streams and buckets use memory storage.
 *
 *   natsc_js <url> [case ...]   run the named cases (all when none given)
 *   natsc_js --list             print the case names, one per line
 *
 * Each case prints "ok <case>" or "FAIL <case>: <line>: <what>"; the program
 * exits 0 only if every case passed (1 on a failure, 2 on usage, 3 when the
 * watchdog fires). Every wait carries a timeout. */
#include <nats/nats.h>

#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    CONNECT_TIMEOUT_MS = 3000,
    WAIT_MS = 5000,
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

static void fail_status(int line, const char *expr, natsStatus s, jsErrCode jerr)
{
    natsStatus last = NATS_OK;
    const char *text = nats_GetLastError(&last);
    fail_line(line, "%s -> %s (%d), jerr %d%s%s", expr, natsStatus_GetText(s), (int)s, (int)jerr,
              text && *text ? "; last error: " : "", text ? text : "");
}

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
            fail_status(__LINE__, #expr, s_, jerr);                                                \
            goto out;                                                                              \
        }                                                                                          \
    } while (0)

static natsStatus dial(natsConnection **nc)
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
        s = natsConnection_Connect(nc, opts);
    natsOptions_Destroy(opts);
    return s;
}

static natsStatus add_stream(jsCtx *js, const char *name, const char *subject, jsErrCode *jerr)
{
    jsStreamConfig cfg;
    jsStreamInfo *si = NULL;
    const char *subjects[1] = {subject};
    jsStreamConfig_Init(&cfg);
    cfg.Name = name;
    cfg.Subjects = subjects;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_MemoryStorage;
    natsStatus s = js_AddStream(&si, js, &cfg, NULL, jerr);
    jsStreamInfo_Destroy(si);
    return s;
}

/* Publish acks, a duplicate by message id, an expected last sequence
 * refused with 10071 (JS-17..JS-19). */
static int case_publish(void)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    jsPubAck *pa = NULL;
    jsErrCode jerr = 0;
    jsPubOptions po;
    int ok = 0;
    CHECK_OK(dial(&nc));
    CHECK_OK(natsConnection_JetStream(&js, nc, NULL));
    CHECK_OK(add_stream(js, "CPUB", "cpub.>", &jerr));
    CHECK_OK(js_Publish(&pa, js, "cpub.a", "one", 3, NULL, &jerr));
    CHECK(pa->Sequence == 1 && strcmp(pa->Stream, "CPUB") == 0 && !pa->Duplicate, "ack %llu %s",
          (unsigned long long)pa->Sequence, pa->Stream);
    jsPubAck_Destroy(pa);
    pa = NULL;
    jsPubOptions_Init(&po);
    po.MsgId = "id-1";
    CHECK_OK(js_Publish(&pa, js, "cpub.a", "two", 3, &po, &jerr));
    jsPubAck_Destroy(pa);
    pa = NULL;
    CHECK_OK(js_Publish(&pa, js, "cpub.a", "two", 3, &po, &jerr));
    CHECK(pa->Sequence == 2 && pa->Duplicate, "duplicate %llu %d", (unsigned long long)pa->Sequence,
          (int)pa->Duplicate);
    jsPubAck_Destroy(pa);
    pa = NULL;
    jsPubOptions_Init(&po);
    po.ExpectLastSeq = 7;
    natsStatus s = js_Publish(&pa, js, "cpub.a", "x", 1, &po, &jerr);
    CHECK(s != NATS_OK && jerr == JSStreamWrongLastSequenceErr, "expected 10071, got %d (%s)",
          (int)jerr, natsStatus_GetText(s));
    jerr = 0;
    CHECK_OK(js_DeleteStream(js, "CPUB", NULL, &jerr));
    ok = 1;
out:
    jsPubAck_Destroy(pa);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return ok;
}

/* A durable pull subscription: fetch a batch, ack it, the consumer's info
 * shows nothing pending (JS-36, JS-31). */
static int case_pull(void)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsSubscription *sub = NULL;
    jsConsumerInfo *ci = NULL;
    natsMsgList list = {0};
    jsErrCode jerr = 0;
    int ok = 0;
    CHECK_OK(dial(&nc));
    CHECK_OK(natsConnection_JetStream(&js, nc, NULL));
    CHECK_OK(add_stream(js, "CPULL", "cpull.>", &jerr));
    for (int i = 0; i < 5; i++) {
        char data[8];
        int n = snprintf(data, sizeof(data), "m%d", i);
        CHECK_OK(js_Publish(NULL, js, "cpull.a", data, n, NULL, &jerr));
    }
    CHECK_OK(js_PullSubscribe(&sub, js, "cpull.a", "worker", NULL, NULL, &jerr));
    CHECK_OK(natsSubscription_Fetch(&list, sub, 5, WAIT_MS, &jerr));
    CHECK(list.Count == 5, "fetched %d", list.Count);
    for (int i = 0; i < list.Count; i++) {
        char want[8];
        int n = snprintf(want, sizeof(want), "m%d", i);
        CHECK(natsMsg_GetDataLength(list.Msgs[i]) == n &&
                  memcmp(natsMsg_GetData(list.Msgs[i]), want, (size_t)n) == 0,
              "message %d", i);
        CHECK_OK(natsMsg_Ack(list.Msgs[i], NULL));
    }
    CHECK_OK(natsConnection_FlushTimeout(nc, WAIT_MS));
    CHECK_OK(js_GetConsumerInfo(&ci, js, "CPULL", "worker", NULL, &jerr));
    CHECK(ci->NumPending == 0 && ci->Delivered.Stream == 5, "pending %llu delivered %llu",
          (unsigned long long)ci->NumPending, (unsigned long long)ci->Delivered.Stream);
    CHECK_OK(js_DeleteStream(js, "CPULL", NULL, &jerr));
    ok = 1;
out:
    natsMsgList_Destroy(&list);
    jsConsumerInfo_Destroy(ci);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return ok;
}

/* A push subscription (an ephemeral consumer with a deliver subject):
 * the messages arrive with their stored subjects (JS-33, JS-39). */
static int case_push(void)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsSubscription *sub = NULL;
    natsMsg *m = NULL;
    jsErrCode jerr = 0;
    int ok = 0;
    CHECK_OK(dial(&nc));
    CHECK_OK(natsConnection_JetStream(&js, nc, NULL));
    CHECK_OK(add_stream(js, "CPUSH", "cpush.>", &jerr));
    CHECK_OK(js_Publish(NULL, js, "cpush.a", "1", 1, NULL, &jerr));
    CHECK_OK(js_Publish(NULL, js, "cpush.b", "2", 1, NULL, &jerr));
    CHECK_OK(js_SubscribeSync(&sub, js, "cpush.>", NULL, NULL, &jerr));
    CHECK_OK(natsSubscription_NextMsg(&m, sub, WAIT_MS));
    CHECK(strcmp(natsMsg_GetSubject(m), "cpush.a") == 0, "subject %s", natsMsg_GetSubject(m));
    CHECK_OK(natsMsg_Ack(m, NULL));
    natsMsg_Destroy(m);
    m = NULL;
    CHECK_OK(natsSubscription_NextMsg(&m, sub, WAIT_MS));
    CHECK(strcmp(natsMsg_GetSubject(m), "cpush.b") == 0, "subject %s", natsMsg_GetSubject(m));
    CHECK_OK(natsMsg_Ack(m, NULL));
    natsMsg_Destroy(m);
    m = NULL;
    natsSubscription_Destroy(sub);
    sub = NULL;
    CHECK_OK(js_DeleteStream(js, "CPUSH", NULL, &jerr));
    ok = 1;
out:
    natsMsg_Destroy(m);
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return ok;
}

/* kvStore_*: put, get, create, update with revisions, delete, keys,
 * history, watch (KV-03..KV-07). */
static int case_kv(void)
{
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    kvStore *kv = NULL;
    kvEntry *e = NULL;
    kvWatcher *w = NULL;
    kvKeysList keys = {0};
    kvEntryList hist = {0};
    jsErrCode jerr = 0;
    kvConfig cfg;
    uint64_t rev = 0;
    int ok = 0;
    CHECK_OK(dial(&nc));
    CHECK_OK(natsConnection_JetStream(&js, nc, NULL));
    kvConfig_Init(&cfg);
    cfg.Bucket = "cbucket";
    cfg.History = 3;
    cfg.StorageType = js_MemoryStorage;
    CHECK_OK(js_CreateKeyValue(&kv, js, &cfg));
    CHECK_OK(kvStore_PutString(&rev, kv, "a", "1"));
    CHECK(rev == 1, "rev %llu", (unsigned long long)rev);
    CHECK_OK(kvStore_PutString(&rev, kv, "a", "2"));
    CHECK_OK(kvStore_Get(&e, kv, "a"));
    CHECK(strcmp(kvEntry_ValueString(e), "2") == 0 && kvEntry_Revision(e) == 2, "get %s %llu",
          kvEntry_ValueString(e), (unsigned long long)kvEntry_Revision(e));
    kvEntry_Destroy(e);
    e = NULL;
    CHECK(kvStore_CreateString(&rev, kv, "a", "x") != NATS_OK, "create of an existing key");
    CHECK_OK(kvStore_CreateString(&rev, kv, "b", "x"));
    CHECK(rev == 3, "rev %llu", (unsigned long long)rev);
    CHECK(kvStore_UpdateString(&rev, kv, "b", "y", 1) != NATS_OK, "update at a wrong revision");
    CHECK_OK(kvStore_UpdateString(&rev, kv, "b", "y", 3));
    CHECK_OK(kvStore_Delete(kv, "b"));
    CHECK_OK(kvStore_Keys(&keys, kv, NULL));
    CHECK(keys.Count == 1 && strcmp(keys.Keys[0], "a") == 0, "keys %d", keys.Count);
    CHECK_OK(kvStore_History(&hist, kv, "a", NULL));
    CHECK(hist.Count == 2, "history %d", hist.Count);
    CHECK_OK(kvStore_Watch(&w, kv, "a", NULL));
    CHECK_OK(kvWatcher_Next(&e, w, WAIT_MS));
    CHECK(e != NULL && strcmp(kvEntry_ValueString(e), "2") == 0, "watch: the current value");
    kvEntry_Destroy(e);
    e = NULL;
    CHECK_OK(kvWatcher_Next(&e, w, WAIT_MS));
    CHECK(e == NULL, "watch: the end of the current values");
    CHECK_OK(kvStore_PutString(&rev, kv, "a", "3"));
    CHECK_OK(kvWatcher_Next(&e, w, WAIT_MS));
    CHECK(e != NULL && strcmp(kvEntry_ValueString(e), "3") == 0, "watch: an update");
    kvEntry_Destroy(e);
    e = NULL;
    kvWatcher_Destroy(w);
    w = NULL;
    kvStore_Destroy(kv);
    kv = NULL;
    CHECK_OK(js_DeleteKeyValue(js, "cbucket"));
    ok = 1;
out:
    kvEntry_Destroy(e);
    kvKeysList_Destroy(&keys);
    kvEntryList_Destroy(&hist);
    kvWatcher_Destroy(w);
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return ok;
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char text[] = "FAIL watchdog: the run took too long\n";
    ssize_t n = write(STDOUT_FILENO, text, sizeof(text) - 1);
    (void)n;
    _exit(3);
}

static const struct {
    const char *name;
    int (*run)(void);
} cases[] = {
    {"js_publish", case_publish},
    {"js_pull", case_pull},
    {"js_push", case_push},
    {"kv", case_kv},
};
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

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
    s = nats_CloseAndWait(CLOSE_WAIT_MS);
    if (s != NATS_OK) {
        printf("FAIL nats_CloseAndWait: %s\n", natsStatus_GetText(s));
        failed++;
    }
    if (failed)
        printf("%d case(s) failed\n", failed);
    return failed ? 1 : 0;
}
